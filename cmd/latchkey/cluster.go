package main

import "strconv"

var clusterSynopsis = []string{
	"cluster nodes",
}

func runCluster(e *env, args []string) int {
	return e.dispatch("cluster", clusterSynopsis, map[string]func(*env, []string) int{
		"nodes": clusterNodes,
	}, args)
}

// clusterNodes lists the server nodes and whether each is alive (its last
// heartbeat younger than the dead-after time, by the store's clock).
func clusterNodes(e *env, args []string) int {
	c := e.newCmd("cluster nodes", synopsisOf(clusterSynopsis, "cluster nodes"), true)
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	nodes, err := cl.Nodes(c.ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(listJSON(nodes, ""))
	}
	rows := make([][]string, len(nodes))
	for i, n := range nodes {
		rows[i] = []string{n.ID, n.Addr, timeText(n.StartedAt), timeText(n.LastSeen), strconv.FormatBool(n.Alive)}
	}
	table(c.stdout, "ID\tADDR\tSTARTED\tLAST SEEN\tALIVE", rows)
	return 0
}
