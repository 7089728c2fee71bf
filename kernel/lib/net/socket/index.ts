// kernel/lib/net/socket — transports and their state machines: TCP connections
// and listeners, UDP sockets, the DHCP client.
export { TcpSocket, TcpState, tcpStateName, TcpHandler, TcpListener, TcpListenHandler, TcpContext,
  TCP_OK, TCP_ERR_REFUSED, TCP_ERR_RESET, TCP_ERR_TIMEOUT, TCP_ERR_ABORTED } from "./tcp";
export { TcpLayer, NetLog, TCP_DEFAULT_RX, TCP_DEFAULT_TX, TCP_MAX_RX, TCP_MAX_TX, TCP_DEFAULT_BACKLOG, TCP_MAX_HALF_OPEN } from "./tcplayer";
export { UdpLayer, UdpSocket, UdpHandler } from "./udp";
export { DhcpClient, DhcpState, dhcpStateName, maskToPrefix } from "./dhcp";
export { RingBuffer } from "./ring";
