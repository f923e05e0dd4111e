package cluster

import (
	"fmt"

	protocluster "github.com/asynkron/protoactor-go/cluster"
)

// newEtcdProvider is the etcd membership provider.
func newEtcdProvider(cfg Config) (protocluster.ClusterProvider, error) {
	return nil, fmt.Errorf("%w: etcd mode is not built yet", ErrStart)
}
