import type { Platform } from '@vane/sdk-core'

/** What the page tells the client: a tab hidden for long, visible again, back online. */
export interface PageLifecycleOptions {
  platform: Platform
  /** How long a tab stays hidden before `onInactive`. */
  inactivityMs: number
  onInactive: () => void
  onVisible: () => void
  onOnline: () => void
}

/**
 * Follows `visibilitychange` and `online` where there is a page (nothing happens elsewhere, e.g. under Node);
 * returns what removes the listeners and the pending timer.
 */
export function watchPage(options: PageLifecycleOptions): () => void {
  const { platform } = options
  let hidden: unknown
  const visibility = () => {
    platform.clearTimeout(hidden)
    if (document.visibilityState === 'hidden') hidden = platform.setTimeout(options.onInactive, options.inactivityMs)
    else options.onVisible()
  }
  const online = () => options.onOnline()
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', visibility)
  if (typeof window !== 'undefined') window.addEventListener('online', online)
  return () => {
    platform.clearTimeout(hidden)
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', visibility)
    if (typeof window !== 'undefined') window.removeEventListener('online', online)
  }
}
