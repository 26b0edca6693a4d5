import type { ApiKeyRecord } from '../storage/repository.js'

/** Hono's typed context variables for every route. */
export interface AppEnv {
  Variables: {
    requestId: string
    apiKey: ApiKeyRecord
  }
}
