#!/usr/bin/env python3
"""One memcached UDP request from SRC to DST, sent as a hand-made Ethernet frame to DST_MAC,
whatever DST is (a broadcast, network or multicast address): the unicast frame a host on the
link can send to a router although its own stack would broadcast it.

  frame.py IFACE DST_MAC SRC DST PORT REQUEST     (REQUEST with \\r\\n escapes; needs root)
"""

import socket
import struct
import sys

UDP_FRAME = b"\x00\x01\x00\x00\x00\x01\x00\x00"  # memcached's udp header: id 1, packet 0 of 1


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main():
    iface, dst_mac, src, dst, port, request = sys.argv[1:7]
    payload = UDP_FRAME + request.encode().decode("unicode_escape").encode()
    udp = struct.pack("!HHHH", 40000, int(port), 8 + len(payload), 0) + payload  # no checksum
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, socket.IPPROTO_UDP,
                     0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    s.send(bytes.fromhex(dst_mac.replace(":", "")) + src_mac + b"\x08\x00" + ip + udp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
