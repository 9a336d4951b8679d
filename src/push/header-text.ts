/** A header's value as one string (a list joined with ", "), or undefined when it is not set. */
export function headerText(value: string | number | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}
