// The browser side of ofrep-web.test.ts. Served next to /bundle.js, an esbuild IIFE of @openfeature/web-sdk and
// @openfeature/ofrep-web-provider built at test time that defines globalThis.VaneOF. The test drives the page
// through globalThis.vaneConformance; arguments and results travel as JSON strings so that contexts keep
// "__proto__" and "constructor" as ordinary keys.
const { OpenFeature, OFREPWebProvider, ProviderEvents } = globalThis.VaneOF

/** EventSource connections the provider opens (from the `eventStreams` of a bulk response). */
const sse = { created: [], opened: [], messages: 0 }
const NativeEventSource = globalThis.EventSource
globalThis.EventSource = class extends NativeEventSource {
  constructor(url, init) {
    super(url, init)
    sse.created.push(String(url))
    this.addEventListener('open', () => sse.opened.push(String(url)))
    this.addEventListener('message', () => {
      sse.messages++
    })
  }
}

/**
 * Every fetch the page made, recorded when it completed (the provider binds globalThis.fetch when it is
 * created, after this runs). `status` 0 is a network error, such as a CORS refusal.
 */
const requests = []
const nativeFetch = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
  const headers = new Headers(input instanceof Request ? input.headers : init?.headers)
  const entry = { path: url.pathname, query: url.search, ifNoneMatch: headers.get('if-none-match'), status: 0 }
  try {
    const res = await nativeFetch(input, init)
    entry.status = res.status
    return res
  } catch (error) {
    entry.error = `${error?.name}: ${error?.message}`
    throw error
  } finally {
    requests.push(entry)
  }
}

/** Changes on every load: the test compares it to prove an update arrived without a reload. */
const loadId = `${Date.now()}-${Math.random()}`

function providerFor(baseUrl, secret, live) {
  return new OFREPWebProvider({
    baseUrl,
    headers: [['Authorization', `Bearer ${secret}`]],
    cacheMode: 'disabled',
    disableVisibilityRefresh: true,
    changeDetection: live ? 'sse' : 'none',
    timeoutMs: 5000,
  })
}

function details(client, flag, getter, defaultValue) {
  const d =
    getter === 'boolean'
      ? client.getBooleanDetails(flag, defaultValue)
      : getter === 'string'
        ? client.getStringDetails(flag, defaultValue)
        : getter === 'number'
          ? client.getNumberDetails(flag, defaultValue)
          : client.getObjectDetails(flag, defaultValue)
  return {
    value: d.value,
    variant: d.variant,
    reason: d.reason,
    errorCode: d.errorCode,
    flagMetadata: { ...d.flagMetadata },
  }
}

const live = { values: [], changed: [], errors: [] }

globalThis.vaneConformance = {
  loadId,
  sse,
  live,
  requests,

  /**
   * `{ domain, baseUrl, secret, groups: [{ context, cases: [{ id, flag, getter, defaultValue }] }] }`: one
   * provider for the domain, one `setContext` per group (the static-context paradigm), every case of the group
   * evaluated from the provider's cache.
   */
  async runGroups(json) {
    const { domain, baseUrl, secret, groups } = JSON.parse(json)
    const client = OpenFeature.getClient(domain)
    const events = []
    client.addHandler(ProviderEvents.Error, (e) => events.push(`error: ${e?.message}`))
    client.addHandler(ProviderEvents.Stale, (e) => events.push(`stale: ${e?.message}`))
    const results = {}
    for (const [i, group] of groups.entries()) {
      if (i === 0) await OpenFeature.setProviderAndWait(domain, providerFor(baseUrl, secret, false), group.context)
      else await OpenFeature.setContext(domain, group.context)
      for (const c of group.cases) results[c.id] = details(client, c.flag, c.getter, c.defaultValue)
    }
    return JSON.stringify({ results, events })
  },

  /** Binds a provider with SSE change detection and records `flag` on every ConfigurationChanged event. */
  async startLive(json) {
    const { domain, baseUrl, secret, flag, context } = JSON.parse(json)
    const client = OpenFeature.getClient(domain)
    client.addHandler(ProviderEvents.ConfigurationChanged, (e) => {
      live.changed.push(e?.flagsChanged ?? null)
      live.values.push(client.getStringValue(flag, 'fallback'))
    })
    client.addHandler(ProviderEvents.Error, (e) => live.errors.push(`error: ${e?.message}`))
    await OpenFeature.setProviderAndWait(domain, providerFor(baseUrl, secret, true), context)
    live.values.push(client.getStringValue(flag, 'fallback'))
    return JSON.stringify(live)
  },

  /** A plain cross-origin fetch of the bulk endpoint, then the official provider, from this page's origin. */
  async tryEvaluate(json) {
    const { domain, baseUrl, secret, flag, context } = JSON.parse(json)
    const out = {}
    try {
      const res = await fetch(`${baseUrl}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ context }),
      })
      out.fetch = `status ${res.status}`
    } catch (error) {
      out.fetch = `${error?.name}: ${error?.message}`
    }
    try {
      await OpenFeature.setProviderAndWait(domain, providerFor(baseUrl, secret, false), context)
      out.provider = 'ready'
    } catch (error) {
      out.provider = `${error?.name}: ${error?.message}`
    }
    out.details = details(OpenFeature.getClient(domain), flag, 'string', 'fallback')
    return JSON.stringify(out)
  },
}
