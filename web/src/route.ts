// Routes live in the URL's fragment (#/customers, #/customers/<id>,
// #/insights), so the server only ever serves index.html and its assets,
// and every view can be bookmarked and reloaded.
import { useEffect, useState } from "preact/hooks";

/** Route is the parsed fragment: a path and its query. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parse(hash: string): Route {
  const [p, q] = hash.replace(/^#/, "").split("?", 2);
  return { path: p.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q ?? "") };
}

/** href builds a fragment link from path segments and query values (empty ones dropped). */
export function href(path: string[], query: Record<string, string> = {}): string {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== ""));
  const s = q.toString();
  return "#/" + path.map(encodeURIComponent).join("/") + (s ? "?" + s : "");
}

/** useRoute follows the fragment. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
