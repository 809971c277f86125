package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// What a run costs PostgreSQL, read from the database itself: the
// transactions of the store's database, the WAL written, the size of the
// store's tables and the CPU of the database's processes, between two
// snapshots. The store should have a database of its own (the server's
// backends are found by it), and PostgreSQL must run on this machine (its
// CPU is read from /proc).

// pgSnap is one snapshot.
type pgSnap struct {
	at                time.Time
	lsn               string // pg_current_wal_lsn as text
	commits, rollback int64
	nextXID           int64 // the next transaction ID: write transactions take one
	walBytes          int64 // pg_current_wal_lsn as bytes
	tables            map[string]int64
	backendCPU        map[int]float64 // the store database's backends, CPU seconds
	auxCPU            map[int]float64 // PostgreSQL's own processes: checkpointer, writers, autovacuum
}

// PGDelta is what PostgreSQL did between two snapshots.
type PGDelta struct {
	Seconds float64 `json:"seconds"` // between the snapshots
	// Commits and Rollbacks are pg_stat_database's xact_commit and
	// xact_rollback of the store's database: every transaction, reads too.
	Commits   int64 `json:"commits"`
	Rollbacks int64 `json:"rollbacks"`
	// WriteXacts is the transaction IDs handed out (the whole cluster):
	// transactions that wrote, each a WAL flush at its commit.
	WriteXacts int64 `json:"write_xacts"`
	WALBytes   int64 `json:"wal_bytes"` // the whole cluster
	// OwnWriteXacts and OwnWALBytes are the store database's share, from
	// the WAL itself (pg_waldump; 0 when it could not be read): the
	// transactions that wrote a page of the database, and the bytes of
	// their records and of any other record on its pages, scaled up for
	// the WAL's padding and page headers (the cluster's bytes ÷ the
	// records' bytes). Other databases' work on the machine does not count.
	OwnWriteXacts int64  `json:"own_write_xacts"`
	OwnWALBytes   int64  `json:"own_wal_bytes"`
	WALDumpError  string `json:"waldump_error,omitempty"`
	// TableBytes is the growth of pg_total_relation_size (indexes and
	// TOAST included) of the store's tables, by table; StoreBytes their sum.
	TableBytes map[string]int64 `json:"table_bytes"`
	StoreBytes int64            `json:"store_bytes"`
	// BackendCPU is the CPU seconds of the store database's backends (a
	// backend that ended in the window is missed); AuxCPU of PostgreSQL's
	// own processes (checkpointer, background and WAL writers, autovacuum:
	// for every database on the server).
	BackendCPU float64 `json:"backend_cpu_seconds"`
	AuxCPU     float64 `json:"aux_cpu_seconds"`
}

// pgWatch takes the snapshots over one connection.
type pgWatch struct{ conn *pgx.Conn }

func openPGWatch(ctx context.Context, dsn string) (*pgWatch, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: connect to the store's PostgreSQL: %w", err)
	}
	return &pgWatch{conn: conn}, nil
}

func (w *pgWatch) close() { w.conn.Close(context.Background()) }

// snap reads the counters. The statistics of a backend reach
// pg_stat_database about a second after it goes idle: take a snapshot
// after the load has been quiet that long.
func (w *pgWatch) snap(ctx context.Context) (pgSnap, error) {
	s := pgSnap{at: time.Now(), tables: map[string]int64{}, backendCPU: map[int]float64{}, auxCPU: auxProcessesCPU()}
	c := w.conn
	if _, err := c.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return s, err
	}
	err := c.QueryRow(ctx, `SELECT xact_commit, xact_rollback, txid_snapshot_xmax(txid_current_snapshot()),
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, pg_current_wal_lsn()::text FROM pg_stat_database WHERE datname = current_database()`).
		Scan(&s.commits, &s.rollback, &s.nextXID, &s.walBytes, &s.lsn)
	if err != nil {
		return s, fmt.Errorf("bench: read pg_stat_database: %w", err)
	}
	rows, err := c.Query(ctx, `SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()`)
	if err != nil {
		return s, err
	}
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			return s, err
		}
		s.tables[name] = size
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	rows, err = c.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	if err != nil {
		return s, err
	}
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return s, err
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	for _, pid := range pids {
		if cpu, ok := procCPU(pid); ok {
			s.backendCPU[pid] = cpu
		}
	}
	return s, nil
}

// since is what happened between an earlier snapshot a and s.
func (s pgSnap) since(a pgSnap) PGDelta {
	d := PGDelta{Seconds: s.at.Sub(a.at).Seconds(), Commits: s.commits - a.commits, Rollbacks: s.rollback - a.rollback,
		WriteXacts: s.nextXID - a.nextXID, WALBytes: s.walBytes - a.walBytes, TableBytes: map[string]int64{}}
	for name, size := range s.tables {
		if g := size - a.tables[name]; g != 0 {
			d.TableBytes[name] = g
		}
		d.StoreBytes += size - a.tables[name]
	}
	for pid, cpu := range s.backendCPU {
		d.BackendCPU += cpu - a.backendCPU[pid] // a backend new in the window counts from 0
	}
	for pid, cpu := range s.auxCPU {
		d.AuxCPU += cpu - a.auxCPU[pid]
	}
	return d
}

// procCPU is a process's user+system CPU seconds from /proc/PID/stat.
func procCPU(pid int) (float64, bool) {
	t, err := readProcStat(pid)
	if err != nil {
		return 0, false
	}
	return t.own, true
}

// auxProcessesCPU is the CPU of PostgreSQL's own processes on this
// machine, by pid (their titles name them).
func auxProcessesCPU() map[int]float64 {
	out := map[int]float64{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		t := procTitle(pid)
		if !strings.Contains(t, "checkpointer") && !strings.Contains(t, "writer") && !strings.Contains(t, "autovacuum") {
			continue
		}
		if cpu, ok := procCPU(pid); ok {
			out[pid] = cpu
		}
	}
	return out
}

// ownWAL reads the WAL between two snapshots with pg_waldump and counts
// the store database's part of it (PGDelta.OwnWriteXacts, OwnWALBytes).
// It needs the right to read the data directory (root or postgres).
func (w *pgWatch) ownWAL(ctx context.Context, a, b pgSnap, d *PGDelta) error {
	var dir, major, oid string
	err := w.conn.QueryRow(ctx, `SELECT current_setting('data_directory'), current_setting('server_version_num')::int / 10000,
		(SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&dir, &major, &oid)
	if err != nil {
		return err
	}
	bin, err := exec.LookPath("pg_waldump")
	if err != nil {
		bin = "/usr/lib/postgresql/" + major + "/bin/pg_waldump"
	}
	cmd := exec.CommandContext(ctx, bin, "-p", filepath.Join(dir, "pg_wal"), "-s", a.lsn, "-e", b.lsn)
	outp, err := cmd.CombinedOutput() // its complaints are lines that are not records
	xacts, bytes, all := walShare(string(outp), oid)
	if err != nil && all == 0 {
		// The usual cause: a checkpoint recycled the window's first
		// segment (a long window, or much WAL from other databases).
		text := strings.TrimSpace(string(outp))
		return fmt.Errorf("pg_waldump: %w: %s", err, text[strings.LastIndexByte(text, '\n')+1:])
	}
	d.OwnWriteXacts = int64(xacts)
	if all > 0 {
		d.OwnWALBytes = int64(float64(bytes) * float64(d.WALBytes) / float64(all))
	}
	return nil
}

// walShare parses pg_waldump's records: the transactions that touched a
// relation of database oid, the total bytes of their records and of the
// other records on its relations, and the total bytes of every record.
func walShare(dump, oid string) (xacts int, mine, all int64) {
	type rec struct {
		tx   string
		size int64
		ours bool
	}
	var recs []rec
	ourTx := map[string]bool{}
	marker := "rel 1663/" + oid + "/"
	for _, line := range strings.Split(dump, "\n") {
		i := strings.Index(line, "len (rec/tot):")
		if i < 0 {
			continue
		}
		f := strings.FieldsFunc(line[i+len("len (rec/tot):"):], func(r rune) bool { return r == '/' || r == ',' || r == ' ' })
		if len(f) < 4 || f[2] != "tx:" {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r := rec{tx: f[3], size: size, ours: strings.Contains(line, marker)}
		if r.ours && r.tx != "0" {
			ourTx[r.tx] = true
		}
		recs = append(recs, r)
		all += size
	}
	for _, r := range recs {
		if r.ours || (r.tx != "0" && ourTx[r.tx]) {
			mine += r.size
		}
	}
	return len(ourTx), mine, all
}
