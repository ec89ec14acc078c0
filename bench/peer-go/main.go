// Command peer-go is the go-control-plane peer of meshplane's benchmarks: go-control-plane's
// SnapshotCache (ADS mode) and xDS server, serving ADS (SotW and Delta) over plaintext gRPC, with
// the snapshots meshplane exported (bench/peer/export-snapshots.ts): one DIR/*.json per node.
//
//	peer-go --address 127.0.0.1:0 --snapshots DIR
//
// Prints `peer listening <host:port>` once every snapshot is set and the port is open. SIGHUP reads
// DIR again — the files that are new or whose size or mtime changed — and sets those nodes'
// snapshots (nodes whose file is gone are cleared), then prints `peer reloaded <nodes> read
// <files>`, or `peer reload-failed <error>` (nothing was set: the old snapshots keep serving).
// SIGTERM or SIGINT stops it. Nothing is printed per stream or request.
//
// Nodes that are served the same resource share one Go message (interned by content), as a
// go-control-plane user building snapshots from shared objects would; each type of a node is
// served under the version meshplane serves it under (typeVersions), so a change pushes only the
// types it changed.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

func main() {
	address := flag.String("address", "127.0.0.1:0", "host:port to serve ADS on (port 0: any free port)")
	dir := flag.String("snapshots", "", "directory of per-node snapshot files (*.json)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "peer-go: --snapshots DIR is required")
		os.Exit(2)
	}
	if err := run(*address, *dir); err != nil {
		fmt.Fprintf(os.Stderr, "peer-go: %v\n", err)
		os.Exit(1)
	}
}

func run(address, dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// Registered before the first load, so a reload asked for meanwhile is not lost (nor fatal).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)

	// ADS mode: responses wait until every named resource is in the snapshot (consistent pushes).
	snapshots := cache.NewSnapshotCache(true, cache.IDHash{}, nil)
	served := newSnapshotDir(dir, snapshots)
	if _, _, err := served.apply(ctx); err != nil {
		return err
	}

	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	// The settings of go-control-plane's own example server (internal/example/server.go).
	grpcServer := grpc.NewServer(
		grpc.MaxConcurrentStreams(1000000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 30 * time.Second, PermitWithoutStream: true}),
	)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, server.NewServer(ctx, snapshots, nil))
	serveErr := make(chan error, 1)
	go func() { serveErr <- grpcServer.Serve(listener) }()
	fmt.Printf("peer listening %s\n", listener.Addr())

	for {
		select {
		case <-ctx.Done():
			grpcServer.Stop() // streams never end by themselves: no graceful wait
			return nil
		case err := <-serveErr:
			return err
		case <-hup:
			nodes, read, err := served.apply(ctx)
			if err != nil {
				fmt.Printf("peer reload-failed %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				continue
			}
			fmt.Printf("peer reloaded %d read %d\n", nodes, read)
		}
	}
}
