// OpenFeature: the server SDK's getBooleanValue & co. through the VaneProvider, and through OpenFeature's own
// InMemoryProvider (the SDK's cost alone).
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk'
import { VaneProvider } from '../../dist/openfeature.js'
import { OF_BATCH } from '../settings.mjs'
import { taskList, timeTasks } from '../timing.mjs'
import { pool } from '../workloads.mjs'

/** The OpenFeature server SDK's awaited calls with the VaneProvider over `client`, and with its InMemoryProvider. */
export async function openFeature(client) {
  await OpenFeature.setProviderAndWait(new VaneProvider(client))
  await OpenFeature.setProviderAndWait(
    'in-memory',
    new InMemoryProvider({ w1: { variants: { on: true, off: false }, defaultVariant: 'on', disabled: false } }),
  )
  const vaneOf = OpenFeature.getClient()
  const memoryOf = OpenFeature.getClient('in-memory')
  for (const ctx of pool.slice(0, 200)) {
    const checks = [
      [await vaneOf.getBooleanValue('w1', false, ctx), client.getBoolean('w1', false, ctx)],
      [await vaneOf.getBooleanValue('w2', false, ctx), client.getBoolean('w2', false, ctx)],
      [await vaneOf.getStringValue('w3', 'control', ctx), client.getString('w3', 'control', ctx)],
      [await memoryOf.getBooleanValue('w1', false, ctx), true],
    ]
    if (checks.some(([a, b]) => a !== b)) throw new Error(`OpenFeature disagrees: ${JSON.stringify(checks)}`)
  }
  const { tasks, add, check } = taskList({ batch: OF_BATCH, async: true })
  add('W1 vane', (ctx) => vaneOf.getBooleanValue('w1', false, ctx))
  add('W2 vane', (ctx) => vaneOf.getBooleanValue('w2', false, ctx))
  add('W3 vane', (ctx) => vaneOf.getStringValue('w3', 'control', ctx))
  add('W1 in-memory', (ctx) => memoryOf.getBooleanValue('w1', false, ctx))
  add('W1 vane details', (ctx) => vaneOf.getBooleanDetails('w1', false, ctx))
  const figures = await timeTasks(tasks, { rounds: 2, async: true })
  check('an OpenFeature')
  return { batch: OF_BATCH, figures }
}
