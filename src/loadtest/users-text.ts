// "1 user", "40 users": how the progress line, the steps and the verdict count virtual users.

export function usersText(n: number): string {
  return `${n} user${n === 1 ? '' : 's'}`;
}
