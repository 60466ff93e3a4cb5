import ipaddr from 'ipaddr.js'

// The key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole /64).
export function addressKey (address: string): string {
  if (!ipaddr.isValid(address)) return address
  const parsed = ipaddr.process(address)
  if (parsed.kind() === 'ipv4') return parsed.toString()
  return `${(parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`
}
