// Command etcd is the upstream etcd server at the version kube-apiserver is
// built against (Debian's etcd-server 3.4 is older than it supports).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
