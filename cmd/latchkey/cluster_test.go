package main

import "testing"

const nodesListJSON = `{"items":[` +
	`{"id":"node_a","addr":"10.0.0.11:7420","started_at":"2025-03-01T09:00:00Z","last_seen":"2025-03-01T09:14:22Z","alive":true},` +
	`{"id":"node_b","addr":"10.0.0.12:7420","started_at":"2025-03-01T08:00:00Z","last_seen":"2025-03-01T09:02:00Z","alive":false}` +
	`],"next":""}`

func TestCluster(t *testing.T) {
	auth := map[string]string{"LATCHKEY_TOKEN": "tok"}
	nodes := call{method: "GET", path: "/v1/cluster/nodes", auth: userAuth, status: 200, resp: nodesListJSON}
	runAll(t, []cliTest{
		{
			name:  "nodes",
			args:  []string{"cluster", "nodes"},
			env:   auth,
			calls: []call{nodes},
			code:  0,
			stdout: []string{"ID", "ADDR", "STARTED", "LAST SEEN", "ALIVE",
				"node_a", "10.0.0.11:7420", "2025-03-01T09:00:00Z", "2025-03-01T09:14:22Z", "true",
				"node_b", "10.0.0.12:7420", "false"},
		},
		{name: "nodes --json", args: []string{"cluster", "nodes", "--json"}, env: auth, calls: []call{nodes}, code: 0, jsonOut: nodesListJSON},
		{
			name:   "nodes are for admins",
			args:   []string{"cluster", "nodes"},
			env:    auth,
			calls:  []call{{method: "GET", path: "/v1/cluster/nodes", auth: userAuth, status: 403, resp: `{"error":{"code":"forbidden","message":"the cluster's nodes are listed by an admin","details":{}}}`}},
			code:   1,
			stderr: []string{"latchkey: forbidden: the cluster's nodes are listed by an admin"},
		},
		{name: "nodes takes no argument", args: []string{"cluster", "nodes", "node_a"}, code: 2, stderr: []string{`unexpected argument "node_a"`}},
		{name: "missing subcommand", args: []string{"cluster"}, code: 2, stderr: []string{"latchkey cluster nodes"}},
		{name: "help", args: []string{"help", "cluster"}, code: 0, stdout: []string{"latchkey cluster nodes"}},
	})
}
