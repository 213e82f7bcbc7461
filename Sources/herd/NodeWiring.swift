import HerdNetwork
import HerdNode

// HerdNode and HerdNetwork do not import each other: the bridge network has the plugin's shape, and the
// executable, which sees both, declares the conformance.
extension BridgeNetwork: PodNetworkPlugin {}
