// Look-ups about other processes by pid (Linux /proc), shared by the embedded PostgreSQL's owner and the ops tests.
import { readFileSync } from 'node:fs'

// Whether a process with this pid exists and we may signal it (signal 0 only checks).
export function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// The parent pid of a live process, from /proc/<pid>/stat (the name before it may hold spaces and parentheses).
export function parentOf (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}
