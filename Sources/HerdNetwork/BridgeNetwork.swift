// The node's pod network: IPAM over the node's pod CIDR, the node bridge and one veth per pod.
