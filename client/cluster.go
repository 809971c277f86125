package client

import (
	"context"

	"latchkey"
)

// Nodes calls GET /v1/cluster/nodes (admins): every node of the cluster,
// alive or not.
func (c *Client) Nodes(ctx context.Context) ([]latchkey.Node, error) {
	var out list[latchkey.Node]
	if err := c.list(ctx, "/v1/cluster/nodes", nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}
