// The browser side of browser.test.ts. Served next to /bundle.js, an esbuild IIFE of sdk-browser's built dist
// (globalThis.VaneSDK) made at test time. The page reads its settings from the query string: `url` (the Vane
// server), `key` (a client key), `flag` (the string flag it renders) and `context` (JSON). It renders the flag
// into #flag at once (cached values, if any) and again on every change, without reloading. The test reads
// globalThis.vanePage; arguments and results of `identify` travel as JSON strings.
const { createClient } = globalThis.VaneSDK
const params = new URLSearchParams(location.search)
const flag = params.get('flag')

/** Changes on every load: the test compares it to prove an update arrived without a reload. */
const loadId = `${Date.now()}-${Math.random()}`
const state = { loadId, renders: [], changes: [], stale: [], errors: [], readyAtStart: false }

const vane = createClient({
  url: params.get('url'),
  clientKey: params.get('key'),
  context: JSON.parse(params.get('context') ?? '{}'),
})
state.readyAtStart = vane.isReady

const element = document.getElementById('flag')
function render() {
  const details = vane.getStringDetails(flag, 'fallback')
  element.textContent = details.value
  element.dataset.reason = details.reason
  element.dataset.errorCode = details.errorCode ?? ''
  state.renders.push(details.value)
}
render()
vane.on('ready', render)
vane.on('change', (keys) => {
  state.changes.push(keys)
  render()
})
vane.on('stale', (error) => state.stale.push(error.message))
vane.on('error', (error) => state.errors.push(error.message))

globalThis.vanePage = {
  state,
  async identify(json) {
    await vane.identify(JSON.parse(json))
    return JSON.stringify({ value: vane.getString(flag, 'fallback') })
  },
  details(key) {
    return JSON.stringify(vane.getStringDetails(key, 'fallback'))
  },
}
