//! nginx's configuration: the registries' fronts (tags and catalog to the pager)
//! and the CDNs on 127.0.0.2.

use anyhow::Result;
use std::path::{Path, PathBuf};

use crate::*;

/// nginx's configuration: listening on `p`, naming `public` in what clients read (with
/// delay relays in front, the two differ).
pub(crate) fn nginx_config(dir: &Path, p: &Ports, public: &Ports) -> Result<PathBuf> {
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
# Each proxied request holds two connections (the client's and the upstream's): four
# clients at 32 jobs each, beside the rest of the live suite, passed 256 and got 500s.
worker_rlimit_nofile 16384;
events {{ worker_connections 4096; }}
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
  # Which protocol each request came in, and on which connection (nginx's serial
  # number): the HTTP/2 tests read it.
  log_format front '$server_port $server_protocol connection=$connection "$request" $status';
{plain}
{token}
  # The TLS front names a realm of its own (https, the same origin): a client refuses
  # a plain-http realm for an https registry.
  map $upstream_http_www_authenticate $front_challenge {{
    "~^(?<before>.*)realm=\"http://127\.0\.0\.1:{public_helper}/token\"(?<after>.*)$" "${{before}}realm=\"https://localhost:{public_token_tls}/token\"${{after}}";
    default $upstream_http_www_authenticate;
  }}
  server {{
    listen 127.0.0.1:{token_tls} ssl http2;
    ssl_certificate {d}/server.crt;
    ssl_certificate_key {d}/server.key;
    access_log {d}/front.log front;
    location ~ ^/v2/(.+/tags/list|_catalog)$ {{
      proxy_pass http://127.0.0.1:{helper};
      # The origin clients see (behind the bench's relay, the relay's port), so that
      # an absolute `Link` stays on it.
      proxy_set_header Host $host:{public_token_tls};
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Lab-Backend http://127.0.0.1:{token_backend};
      proxy_hide_header WWW-Authenticate;
      add_header WWW-Authenticate $front_challenge always;
    }}
    location = /token {{
      proxy_pass http://127.0.0.1:{helper};
    }}
    location / {{
      proxy_pass http://127.0.0.1:{token_backend};
      proxy_set_header Host $host:$server_port;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_hide_header WWW-Authenticate;
      add_header WWW-Authenticate $front_challenge always;
      # Blobs go to the https CDN (an https registry may not redirect to http).
      proxy_redirect http://127.0.0.2:{public_cdn_token}/ https://127.0.0.2:{public_cdn_https}/token-data/;
    }}
  }}
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
    listen 127.0.0.2:{cdn_https} ssl http2;
    ssl_certificate {d}/server.crt;
    ssl_certificate_key {d}/server.key;
    access_log {d}/cdn.log cdn;
    access_log {d}/front.log front;
    root {d}/basic-data;
    location /token-data/ {{
      alias {d}/token-data/;
    }}
  }}
}}
"#,
        t = tmp.display(),
        plain = front(p.plain, p.plain_backend),
        token = front(p.token, p.token_backend),
        cdn_plain = p.cdn_plain,
        cdn_token = p.cdn_token,
        cdn_https = p.cdn_https,
        token_tls = p.token_tls,
        token_backend = p.token_backend,
        helper = p.helper,
        public_helper = public.helper,
        public_token_tls = public.token_tls,
        public_cdn_token = public.cdn_token,
        public_cdn_https = public.cdn_https,
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}
