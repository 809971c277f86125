package client_test

import (
	"context"
	"errors"
	"testing"

	"latchkey"
	"latchkey/client"
)

const nodesJSON = `{"items":[` +
	`{"id":"node_a","addr":"10.0.0.11:7420","started_at":"2025-03-01T09:00:00Z","last_seen":"2025-03-01T09:14:22Z","alive":true},` +
	`{"id":"node_b","addr":"10.0.0.12:7420","started_at":"2025-03-01T08:00:00Z","last_seen":"2025-03-01T09:02:00Z","alive":false}` +
	`],"next":""}`

// TestNodes: GET /v1/cluster/nodes, its items decoded, alive or not.
func TestNodes(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, exchange{method: "GET", path: "/v1/cluster/nodes", status: 200, resp: nodesJSON}, "tok")
	nodes, err := client.New(srv.URL, client.WithToken("tok")).Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, "nodes", asJSON(t, map[string]any{"items": nodes, "next": ""}), nodesJSON)
}

// TestNodesForbidden: a caller who is not an admin gets the API's error.
func TestNodesForbidden(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, exchange{method: "GET", path: "/v1/cluster/nodes", status: 403,
		resp: `{"error":{"code":"forbidden","message":"the cluster's nodes are listed by an admin","details":{}}}`}, "tok")
	nodes, err := client.New(srv.URL, client.WithToken("tok")).Nodes(context.Background())
	var le *latchkey.Error
	if nodes != nil || !errors.As(err, &le) || le.Code != latchkey.EFORBIDDEN {
		t.Fatalf("nodes as a user: %+v, %#v", nodes, err)
	}
}
