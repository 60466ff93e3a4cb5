import { BlockList, isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

// Which remote addresses a link preview may connect to (SSRF policy).

// Never reachable for previews, whatever the settings: link-local (cloud metadata at
// 169.254.169.254), unspecified, multicast, broadcast, reserved and documentation ranges.
const ALWAYS_REFUSED = new BlockList()
// Loopback and private networks: admitted only with LINK_PREVIEW_ALLOW_PRIVATE (tests, demos).
const PRIVATE = new BlockList()

for (const [net, prefix] of [
  ['0.0.0.0', 8], ['169.254.0.0', 16], ['192.0.0.0', 24], ['192.0.2.0', 24], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) ALWAYS_REFUSED.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  ['::', 128], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['100::', 64], ['2001::', 23],
] as const) ALWAYS_REFUSED.addSubnet(net, prefix, 'ipv6')

for (const [net, prefix] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['100.64.0.0', 10]] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [['::1', 128], ['fc00::', 7]] as const) PRIVATE.addSubnet(net, prefix, 'ipv6')

// The eight 16-bit groups of an IPv6 address in any spelling (ipaddr.js reads ::a.b.c.d as ::ffff:a.b.c.d,
// which is classified as that IPv4 address either way); anything it cannot parse is refused.
function ipv6Groups (address: string): number[] | null {
  try {
    return ipaddr.IPv6.parse(address).parts
  } catch {
    return null
  }
}

// An IPv4 address carried inside an IPv6 one: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d),
// translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002:AABB:CCDD::).
function embeddedIpv4 (groups: number[]): string | null {
  const v4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
  const zeros = (from: number, to: number): boolean => groups.slice(from, to).every((g) => g === 0)
  if (zeros(0, 5) && groups[5] === 0xffff) return v4(groups[6], groups[7])
  if (zeros(0, 6) && groups[6] !== 0) return v4(groups[6], groups[7])
  if (zeros(0, 4) && groups[4] === 0xffff && groups[5] === 0) return v4(groups[6], groups[7])
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return v4(groups[6], groups[7])
  if (groups[0] === 0x2002) return v4(groups[1], groups[2])
  return null
}

export type AddressVerdict = 'public' | 'private' | 'refused'

// Classifies an IP address; anything unparsable is refused.
export function classifyAddress (address: string): AddressVerdict {
  const bare = address.replace(/^\[|\]$/g, '')
  const family = isIP(bare)
  if (family === 4) {
    if (ALWAYS_REFUSED.check(bare, 'ipv4')) return 'refused'
    return PRIVATE.check(bare, 'ipv4') ? 'private' : 'public'
  }
  if (family !== 6) return 'refused'
  const groups = ipv6Groups(bare)
  if (groups === null) return 'refused'
  const inner = embeddedIpv4(groups)
  if (inner !== null) return classifyAddress(inner)
  const canonical = groups.map((g) => g.toString(16)).join(':')
  // The rest of ::/96 (::, ::2 ...) is unspecified or reserved; ::1 is loopback.
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] !== 1) return 'refused'
  if (ALWAYS_REFUSED.check(canonical, 'ipv6')) return 'refused'
  return PRIVATE.check(canonical, 'ipv6') ? 'private' : 'public'
}

export function isAllowedAddress (address: string, allowPrivate: boolean): boolean {
  const verdict = classifyAddress(address)
  return verdict === 'public' || (verdict === 'private' && allowPrivate)
}
