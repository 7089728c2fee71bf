// main.ts — __NAME__: a small HTTP service on Skiff. serve() brings up TCP/IP
// (DHCP) and the management API (on the host-only socket skiff run prints; on
// port 8000 too with api.net=on), then answers on port 8080 (boot word
// app.port=N, or --config app.port=N, changes it):
//   GET /              a greeting
//   GET /hello/{name}  a greeting for name
import { serve, intSetting, Router, Request, Response } from "skiff";

function hello(req: Request, res: Response): void {
  const name = req.param("name");
  res.text(200, "Hello, " + (name !== null ? name : "world") + "!\n");
}

export function main(): i32 {
  const app = new Router();
  app.get("/", hello);
  app.get("/hello/{name}", hello);
  return serve(<u32>intSetting("app.port", 8080, 1, 65535), app, "__NAME__") !== null ? 0 : 1;
}
