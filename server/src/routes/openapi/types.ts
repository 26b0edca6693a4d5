/** The parts of an OpenAPI 3.1 document that Vane's document uses, shared by the document and its renderings. */

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). */
export type JsonSchema = { [keyword: string]: unknown }
export interface Ref {
  $ref: string
}
export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required: boolean
  description: string
  schema: JsonSchema
}
export interface MediaType {
  schema: JsonSchema
  example?: unknown
}
export interface Header {
  description: string
  schema: JsonSchema
}
export interface ResponseObject {
  description: string
  headers?: Record<string, Header | Ref>
  content?: Record<string, MediaType>
}
export interface Operation {
  operationId: string
  summary: string
  description?: string
  tags: string[]
  security?: Record<string, string[]>[]
  parameters?: Parameter[]
  requestBody?: { required: boolean; description?: string; content: Record<string, MediaType> }
  responses: Record<string, ResponseObject | Ref>
}
export type Method = 'get' | 'put' | 'post' | 'delete'
export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } }
  jsonSchemaDialect: string
  tags: { name: string; description: string }[]
  security: Record<string, string[]>[]
  paths: Record<string, Partial<Record<Method, Operation>>>
  components: {
    schemas: Record<string, JsonSchema>
    responses: Record<string, ResponseObject>
    headers: Record<string, Header>
    securitySchemes: Record<string, Record<string, string>>
  }
}

export interface OpenApiOptions {
  /** The cap on admin request bodies (`BODY_LIMIT` in app.ts). */
  bodyLimit: number
  /** Reported as `info.version`. */
  version?: string
}
