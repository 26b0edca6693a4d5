/** Reads a context attribute. A name that is an own key wins; otherwise a dot path walks nested objects. */
export type AttributeReader = (context: Record<string, unknown>) => unknown

const hasOwn = Object.hasOwn

/** Compiles an attribute name into a reader that never looks at prototypes. */
export function attributeReader(name: string): AttributeReader {
  if (!name.includes('.')) return (ctx) => (hasOwn(ctx, name) ? ctx[name] : undefined)
  const parts = name.split('.')
  return (ctx) => {
    if (hasOwn(ctx, name)) return ctx[name]
    let current: unknown = ctx
    for (const part of parts) {
      // dots walk objects only: an array's indexes and length are not attributes
      if (typeof current !== 'object' || current === null || Array.isArray(current) || !hasOwn(current, part))
        return undefined
      current = (current as Record<string, unknown>)[part]
    }
    return current
  }
}
