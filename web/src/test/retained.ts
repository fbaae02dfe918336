/** How many objects deep a value is searched from a hook, a component's state or its props. */
const MAX_DEPTH = 12;

/**
 * Where a rendered tree still holds `needle`: the path to every string containing it in the
 * current tree's component state (hooks: state, refs, memos, effect dependencies) and props.
 * It reads React's fibers from the container (`__reactContainer$…`, internal but unchanged since
 * React 17); the previous render's copies (`alternate`), which React overwrites on its next
 * render, are not looked at. Closures cannot be looked into. A function component's hooks are a
 * list linked by `next`: each hook is searched from the top, so the twentieth is searched as deeply
 * as the first.
 */
export function retainedIn(container: HTMLElement, needle: string): string[] {
  const key = Object.keys(container).find((k) => k.startsWith('__reactContainer$'));
  if (!key) throw new Error('no React root in this container');
  const hostRoot = (container as unknown as Record<string, Fiber>)[key];
  const found: string[] = [];
  // How deep each object was searched from: one met again by a shorter path is searched again.
  const seen = new WeakMap<object, number>();

  const search = (value: unknown, path: string, depth: number) => {
    if (typeof value === 'string') {
      if (value.includes(needle)) found.push(path);
      return;
    }
    if (!value || typeof value !== 'object' || depth > MAX_DEPTH) return;
    if ((seen.get(value) ?? Infinity) <= depth) return;
    if (value instanceof Node) return;
    seen.set(value, depth);
    if (value instanceof Map) {
      for (const [k, v] of value) {
        search(k, `${path}<key>`, depth + 1);
        search(v, `${path}.get(…)`, depth + 1);
      }
      return;
    }
    if (value instanceof Set) {
      for (const v of value) search(v, `${path}<item>`, depth + 1);
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      // React elements point back at fibers; fibers are walked below, one by one.
      if (k === '_owner' || k.startsWith('_debug')) continue;
      search(v, `${path}.${k}`, depth + 1);
    }
  };

  const fibers: Fiber[] = [hostRoot.stateNode.current];
  while (fibers.length) {
    const fiber = fibers.pop() as Fiber;
    const name =
      typeof fiber.type === 'string' ? fiber.type : (fiber.type?.displayName ?? fiber.type?.name ?? '?');
    if (isHook(fiber.memoizedState)) {
      let hook: Hook | null = fiber.memoizedState;
      for (let i = 0; hook; i++, hook = isHook(hook.next) ? hook.next : null) {
        for (const [k, v] of Object.entries(hook)) {
          if (k !== 'next') search(v, `${name}.hooks[${i}].${k}`, 1);
        }
      }
    } else {
      search(fiber.memoizedState, `${name}.state`, 0);
    }
    search(fiber.memoizedProps, `${name}.props`, 0);
    if (fiber.sibling) fibers.push(fiber.sibling);
    if (fiber.child) fibers.push(fiber.child);
  }
  return found;
}

interface Fiber {
  type: string | { displayName?: string; name?: string } | null;
  memoizedState: unknown;
  memoizedProps: unknown;
  child: Fiber | null;
  sibling: Fiber | null;
  stateNode: { current: Fiber };
}

/** One hook of a function component, as React keeps it. */
interface Hook {
  memoizedState: unknown;
  queue: unknown;
  next: Hook | null;
}

function isHook(value: unknown): value is Hook {
  return (
    !!value && typeof value === 'object' && 'memoizedState' in value && 'queue' in value && 'next' in value
  );
}

/** The hooks (`Name.hooks[i]`) and states (`Name.state`) among `retainedIn`'s paths, each once. */
export function statesIn(paths: string[]): string[] {
  const states = paths
    .map((p) => p.match(/^[^.]+\.(hooks\[\d+\]|state)/)?.[0])
    .filter((s) => s !== undefined);
  return [...new Set(states)];
}
