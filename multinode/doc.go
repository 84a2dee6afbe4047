// Package multinode holds the tests and benchmarks of several oidcd nodes
// serving one provider from one PostgreSQL database: every step of a flow
// on another node, concurrent code redemption across nodes, simultaneous
// first starts, cross-node freshness of keys and clients, cleanup on
// several nodes, a node killed under load and a database restart under
// load. The tests build and run the real oidcd binary; they need a
// PostgreSQL server (postgres://postgres@127.0.0.1:5432/postgres, or the URL
// in OIDCD_TEST_POSTGRES) and fail without one.
//
// The package has no code of its own and nothing imports it.
package multinode
