// useLoad runs an async loader when its inputs change and keeps the latest
// answer, so a slow earlier answer never overwrites a newer one.
import { useEffect, useState } from "preact/hooks";
import { message } from "./api";

export type Loaded<T> = { state: "loading" } | { state: "error"; error: string } | { state: "done"; value: T };

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  useEffect(() => {
    let live = true;
    setLoaded({ state: "loading" });
    load().then(
      (value) => live && setLoaded({ state: "done", value }),
      (err) => live && setLoaded({ state: "error", error: message(err) }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return loaded;
}
