/** tfjs refuses two variables with the same name; instances get a numbered scope. */
let counter = 0;
export function uniqueScope(prefix: string): string {
  counter++;
  return `${prefix}_${counter}`;
}
