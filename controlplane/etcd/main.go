// Command etcd is the upstream etcd server, built from its published module so the project does not
// depend on a prebuilt binary (none can be downloaded on our CI machines).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
