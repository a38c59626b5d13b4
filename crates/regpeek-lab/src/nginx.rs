//! nginx's configuration: the registries' fronts (tags and catalog to the pager)
//! and the CDNs on 127.0.0.2.

use anyhow::Result;
use std::path::{Path, PathBuf};

use crate::*;

pub(crate) fn nginx_config(dir: &Path, p: &Ports) -> Result<PathBuf> {
    let d = dir.display();
    let tmp = dir.join("nginx-tmp");
    std::fs::create_dir_all(&tmp)?;
    let front = |port: u16, backend: u16| {
        format!(
            r#"
  server {{
    listen 127.0.0.1:{port};
    location ~ ^/v2/(.+/tags/list|_catalog)$ {{
      proxy_pass http://127.0.0.1:{helper};
      proxy_set_header Host $http_host;
      proxy_set_header X-Lab-Backend http://127.0.0.1:{backend};
    }}
    location / {{
      proxy_pass http://127.0.0.1:{backend};
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}"#,
            helper = p.helper
        )
    };
    let conf = format!(
        r#"worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_max_body_size 0;
  client_body_temp_path {t}/body;
  proxy_temp_path {t}/proxy;
  fastcgi_temp_path {t}/fastcgi;
  uwsgi_temp_path {t}/uwsgi;
  scgi_temp_path {t}/scgi;
  types {{ }}
  default_type application/octet-stream;
  log_format cdn '$server_port "$request" $status authorization="$http_authorization"';
{plain}
{token}
  server {{
    listen 127.0.0.2:{cdn_plain};
    access_log {d}/cdn.log cdn;
    root {d}/plain-data;
  }}
  server {{
    listen 127.0.0.2:{cdn_token};
    access_log {d}/cdn.log cdn;
    root {d}/token-data;
    # A CDN that ignores Range (a 200 with the whole blob): eStargz readers fall
    # back to reading the layer whole.
    max_ranges 0;
  }}
  server {{
    listen 127.0.0.2:{cdn_https} ssl;
    ssl_certificate {d}/server.crt;
    ssl_certificate_key {d}/server.key;
    access_log {d}/cdn.log cdn;
    root {d}/basic-data;
  }}
}}
"#,
        t = tmp.display(),
        plain = front(p.plain, p.plain_backend),
        token = front(p.token, p.token_backend),
        cdn_plain = p.cdn_plain,
        cdn_token = p.cdn_token,
        cdn_https = p.cdn_https,
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}
