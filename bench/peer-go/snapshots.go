package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	// Register the resource types the snapshots carry, so Any.UnmarshalNew finds them. Nested Anys
	// (filters, transport sockets) are left as opaque bytes and need no registration.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// exportedSnapshot is one node's file, as bench/peer/peer-contract.ts (ExportedSnapshot) defines it.
type exportedSnapshot struct {
	NodeID       string            `json:"nodeId"`
	Version      string            `json:"version"`
	TypeVersions map[string]string `json:"typeVersions"`
	Resources    []struct {
		TypeURL string `json:"typeUrl"`
		Name    string `json:"name"`
		Value   []byte `json:"base64"` // encoding/json decodes base64 into []byte
	} `json:"resources"`
}

type nodeSnapshot struct {
	nodeID   string
	snapshot *cache.Snapshot
}

// interner hands out one Go message per distinct serialized resource, so nodes that are served the
// same resource (the trust bundle, a service's cluster) share it, as a go-control-plane user
// building snapshots from shared objects would.
type interner struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]types.Resource
}

func (in *interner) resource(typeURL string, value []byte) (types.Resource, error) {
	key := sha256.Sum256(append([]byte(typeURL+"\x00"), value...))
	in.mu.Lock()
	r, ok := in.seen[key]
	in.mu.Unlock()
	if ok {
		return r, nil
	}
	msg, err := (&anypb.Any{TypeUrl: typeURL, Value: value}).UnmarshalNew()
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if r, ok := in.seen[key]; ok {
		return r, nil
	}
	in.seen[key] = msg
	return msg, nil
}

// readSnapshot reads one node's file into a go-control-plane snapshot. Each type is served under
// its entry of typeVersions (meshplane's own version of it, so only changed types are pushed), or
// under the node's version; the types of typeVersions without resources are served empty.
func readSnapshot(path string, in *interner) (nodeSnapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nodeSnapshot{}, err
	}
	var exported exportedSnapshot
	if err := json.Unmarshal(data, &exported); err != nil {
		return nodeSnapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	if exported.NodeID == "" || exported.Version == "" {
		return nodeSnapshot{}, fmt.Errorf("%s: nodeId and version are required", path)
	}
	byType := map[resource.Type][]types.Resource{}
	for _, r := range exported.Resources {
		msg, err := in.resource(r.TypeURL, r.Value)
		if err != nil {
			return nodeSnapshot{}, fmt.Errorf("%s: %s %q: %w", path, r.TypeURL, r.Name, err)
		}
		if got := cache.GetResourceName(msg); got != r.Name {
			return nodeSnapshot{}, fmt.Errorf("%s: %s %q decodes with the name %q", path, r.TypeURL, r.Name, got)
		}
		byType[r.TypeURL] = append(byType[r.TypeURL], msg)
	}
	for typeURL := range exported.TypeVersions {
		if _, ok := byType[typeURL]; !ok {
			byType[typeURL] = nil
		}
	}
	snapshot := &cache.Snapshot{}
	for typeURL, items := range byType {
		kind := cache.GetResponseType(typeURL)
		if kind == types.UnknownType {
			return nodeSnapshot{}, fmt.Errorf("%s: unknown resource type %s", path, typeURL)
		}
		version := exported.TypeVersions[typeURL]
		if version == "" {
			version = exported.Version
		}
		snapshot.Resources[kind] = cache.NewResources(version, items)
	}
	return nodeSnapshot{nodeID: exported.NodeID, snapshot: snapshot}, nil
}

// fileState is what the peer last read from one file.
type fileState struct {
	size     int64
	modified time.Time
	node     nodeSnapshot
}

// snapshotDir is the directory the peer serves and what it set from it.
type snapshotDir struct {
	dir    string
	cache  cache.SnapshotCache
	in     *interner
	files  map[string]fileState
	loaded bool
}

func newSnapshotDir(dir string, c cache.SnapshotCache) *snapshotDir {
	return &snapshotDir{dir: dir, cache: c, in: &interner{seen: map[[sha256.Size]byte]types.Resource{}}, files: map[string]fileState{}}
}

// apply reads the files of DIR/*.json that are new or whose size or mtime changed (all of them
// the first time), decoding on all cores, sets their nodes' snapshots, and clears the nodes whose
// file is gone. It returns the number of nodes served and of files read. On a read error nothing
// is set.
func (d *snapshotDir) apply(ctx context.Context) (nodes, read int, err error) {
	paths, err := filepath.Glob(filepath.Join(d.dir, "*.json"))
	if err != nil {
		return 0, 0, err
	}
	if !d.loaded && len(paths) == 0 {
		return 0, 0, fmt.Errorf("no *.json snapshot files in %s", d.dir)
	}
	sort.Strings(paths)
	next := make(map[string]fileState, len(paths))
	var changed []string
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			return 0, 0, err
		}
		state, ok := d.files[path]
		if ok && state.size == info.Size() && state.modified.Equal(info.ModTime()) {
			next[path] = state
			continue
		}
		next[path] = fileState{size: info.Size(), modified: info.ModTime()}
		changed = append(changed, path)
	}

	decoded := make([]nodeSnapshot, len(changed))
	errs := make([]error, len(changed))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				decoded[i], errs[i] = readSnapshot(changed[i], d.in)
			}
		}()
	}
	for i := range changed {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, path := range changed {
		if errs[i] != nil {
			return 0, 0, errs[i]
		}
		state := next[path]
		state.node = decoded[i]
		next[path] = state
	}
	byNode := make(map[string]string, len(next))
	for _, path := range paths {
		node := next[path].node.nodeID
		if other, dup := byNode[node]; dup {
			return 0, 0, fmt.Errorf("node %q is in both %s and %s", node, other, path)
		}
		byNode[node] = path
	}

	for _, path := range changed {
		n := next[path].node
		if err := d.cache.SetSnapshot(ctx, n.nodeID, n.snapshot); err != nil {
			return 0, 0, fmt.Errorf("node %q: %w", n.nodeID, err)
		}
	}
	for _, state := range d.files {
		if _, ok := byNode[state.node.nodeID]; !ok {
			d.cache.ClearSnapshot(state.node.nodeID)
		}
	}
	d.files = next
	d.loaded = true
	d.in.retain(next)
	return len(next), len(changed), nil
}

// retain forgets the interned resources that no snapshot of `files` uses any more.
func (in *interner) retain(files map[string]fileState) {
	live := map[types.Resource]bool{}
	for _, f := range files {
		for _, resources := range f.node.snapshot.Resources {
			for _, r := range resources.Items {
				live[r.Resource] = true
			}
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for key, r := range in.seen {
		if !live[r] {
			delete(in.seen, key)
		}
	}
}
