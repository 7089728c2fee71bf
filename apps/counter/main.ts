// apps/counter/main.ts — a small JSON service: the first example in docs/APPS.md.
import { serve, Router, Request, Response, JsonWriter, jsonString } from "skiff";

let hits = 0;

function hello(req: Request, res: Response): void {
  res.json(200, `{"hello":${jsonString(req.param("name")!)}}`);
}

function count(req: Request, res: Response): void {
  const body = req.json();                       // {"by": 5}, or nothing for 1
  hits += body !== null ? <i32>body.getNumber("by", 1) : 1;
  res.json(200, new JsonWriter().beginObject().propInt("hits", hits).endObject());
}

export function main(): i32 {
  const app = new Router();
  app.get("/hello/{name}", hello);
  app.post("/count", count);
  return serve(8080, app, "counter") !== null ? 0 : 1;
}
