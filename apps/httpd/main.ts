// apps/httpd/main.ts — a static web server. The site comes from a virtio-blk
// disk holding a `skiff mkfs` image, or from the image itself (`skiff build
// apps/httpd --embed <folder>`); GET/HEAD with MIME types, ETags and ranges
// (static.ts). Settings, from /config (config.<key>= on the boot command line
// seeds it) or a bare <key>= boot word:
//   httpd.port           TCP port (default 8080; the REST endpoint has 8000)
//   httpd.source         auto (disk if it holds a site, else embedded), disk or embed
//   httpd.disk           which virtio-blk disk (default 0)
//   httpd.cache-control  Cache-Control sent with files; changes apply at once
//   httpd.cache-bytes    file bytes kept in memory (default 32 MiB)
import {
  println, setting, intSetting, blkDevice, config, ConfigListener, serve,
  Router, Handler, Request, Response, VirtioBlk, runningApi, MetricsSource, MetricsWriter,
} from "skiff";
import { EMBED_PTR, EMBED_LEN } from "skiff-embed";
import { Site, SiteStore, MemoryStore } from "./sitefs";
import { StaticFiles, noSitePage } from "./static";

class BlkStore extends SiteStore {
  constructor(public dev: VirtioBlk) { super(); }
  size(): u64 { return this.dev.capacity * 512; }
  read(off: u64, buf: usize, len: i32): i32 { return this.dev.readSync(off / 512, buf, <u32>len); }
}

class NoSite extends Handler {
  constructor(public why: string) { super(); }
  handle(req: Request, res: Response): void { noSitePage(res, this.why); }
}

class Settings extends ConfigListener {
  constructor(public files: StaticFiles) { super(); }
  changed(key: string, value: string | null): void {
    if (key == "httpd.cache-control") {
      this.files.cacheControl = value === null ? "" : value;
      println("httpd: Cache-Control now \"" + this.files.cacheControl + "\"");
    }
  }
}

class Metrics extends MetricsSource {
  constructor(public files: StaticFiles) { super(); }
  write(w: MetricsWriter): void {
    const s = this.files.stats;
    w.family("skiff_httpd_responses_total", "counter", "Static file responses by outcome.");
    w.sample("skiff_httpd_responses_total", ["outcome", "ok"], <f64>s.ok);
    w.sample("skiff_httpd_responses_total", ["outcome", "partial"], <f64>s.partial);
    w.sample("skiff_httpd_responses_total", ["outcome", "not_modified"], <f64>s.notModified);
    w.sample("skiff_httpd_responses_total", ["outcome", "not_found"], <f64>s.notFound);
    w.sample("skiff_httpd_responses_total", ["outcome", "range_not_satisfiable"], <f64>s.rangeNotSatisfiable);
    w.sample("skiff_httpd_responses_total", ["outcome", "error"], <f64>s.errors);
    w.family("skiff_httpd_sent_bytes_total", "counter", "File bytes sent.");
    w.sample("skiff_httpd_sent_bytes_total", [], <f64>s.bytes);
  }
}

/** Mounts the site the settings ask for; null with the reason in why[0]. */
function openSite(why: string[]): Site | null {
  const source = setting("httpd.source", "auto");
  if (source != "auto" && source != "disk" && source != "embed") {
    println("httpd: httpd.source=" + source + " is not auto, disk or embed; using auto");
  }
  const budget = <u64>intSetting("httpd.cache-bytes", 32 << 20, 0, 1 << 30);
  if (source != "embed") {
    const n = intSetting("httpd.disk", 0, 0, 63);
    const dev = blkDevice(n);
    if (dev !== null) {
      const site = new Site(new BlkStore(dev));
      site.cacheBudget = budget;
      if (site.mount()) { println("httpd: serving " + site.files.length.toString() + " files from " + dev.name); return site; }
      why.push("disk " + dev.name + ": " + site.problem);
    } else why.push("no virtio-blk disk " + n.toString());
  }
  if (source != "disk") {
    if (EMBED_LEN > 0) {
      const site = new Site(new MemoryStore(EMBED_PTR, EMBED_LEN));
      site.cacheBudget = 0;   // already in memory
      if (site.mount()) { println("httpd: serving " + site.files.length.toString() + " embedded files"); return site; }
      why.push("embedded site: " + site.problem);
    } else why.push("nothing embedded");
  }
  return null;
}

let metrics: Metrics | null = null;

export function main(): i32 {
  const router = new Router();
  const why = new Array<string>();
  const site = openSite(why);
  if (site === null) {
    println("httpd: no site (" + why.join("; ") + "); answering 503");
    const h = new NoSite(why.join("; "));
    router.get("/", h);
    router.get("/{path...}", h);
  } else {
    const files = new StaticFiles(site);
    files.cacheControl = setting("httpd.cache-control", "");
    config().addListener(new Settings(files));
    router.get("/", files);
    router.get("/{path...}", files);
    metrics = new Metrics(files);
  }
  // The network, limits, timeouts, the listening line; serves until shut down.
  const svc = serve(<u32>intSetting("httpd.port", 8080, 1, 65535), router, "httpd");
  if (svc === null) return 2;
  const api = runningApi();                    // up with the network, unless api.off
  if (api !== null && metrics !== null) api.state.extraMetrics.push(metrics!);
  return 0;
}
