//! Pushing blobs and manifests through the registry API (what `docker push` does).

use anyhow::{Context, Result, bail};

use crate::image::*;

/// An agent for lab set-up traffic: status codes are data, no proxies (loopback only),
/// and optionally the lab CA as the only trust root.
pub fn agent_with_ca(ca_pem: Option<&str>) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(std::time::Duration::from_secs(30)));
    if let Some(pem) = ca_pem {
        let certs = regpeek_ureq::pem_certificates(pem.as_bytes());
        cfg = cfg.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        );
    }
    cfg.build().new_agent()
}

/// [`agent_with_ca`] without a CA.
pub fn agent() -> ureq::Agent {
    agent_with_ca(None)
}

/// Gives the `Authorization` value for a repository, if any.
pub type AuthFn = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where to push: a registry base URL, an agent, and the `Authorization` value to send
/// for a repository (none for open registries).
pub struct Target {
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub base: String,
    /// The agent.
    pub agent: ureq::Agent,
    /// Authorization per repository.
    pub auth: AuthFn,
}

impl Target {
    /// An open registry.
    pub fn open(base: &str) -> Target {
        Target {
            base: base.to_owned(),
            agent: agent(),
            auth: Box::new(|_| None),
        }
    }

    fn call(
        &self,
        repo: &str,
        req: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let req = match (self.auth)(repo) {
            Some(a) => req.header("Authorization", &a),
            None => req,
        };
        Ok(req.call()?)
    }

    fn send(
        &self,
        repo: &str,
        req: ureq::RequestBuilder<ureq::typestate::WithBody>,
        body: &[u8],
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let req = match (self.auth)(repo) {
            Some(a) => req.header("Authorization", &a),
            None => req,
        };
        Ok(req.send(body)?)
    }

    /// Uploads a blob unless the registry has it (POST an upload, then PUT with the digest).
    pub fn blob(&self, repo: &str, blob: &Blob) -> Result<()> {
        let base = &self.base;
        let head = self.call(
            repo,
            self.agent
                .head(&format!("{base}/v2/{repo}/blobs/{}", blob.digest)),
        )?;
        if head.status() == 200 {
            return Ok(());
        }
        let r = self.send(
            repo,
            self.agent.post(&format!("{base}/v2/{repo}/blobs/uploads/")),
            &[],
        )?;
        if r.status() != 202 {
            bail!("starting a blob upload to {repo}: HTTP {}", r.status());
        }
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("upload answer has no Location")?;
        let mut url = if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{base}{location}")
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("digest=");
        url.push_str(&blob.digest);
        let r = self.send(
            repo,
            self.agent
                .put(&url)
                .header("content-type", "application/octet-stream"),
            &blob.bytes,
        )?;
        if r.status() != 201 {
            bail!(
                "uploading blob {} to {repo}: HTTP {}",
                blob.digest,
                r.status()
            );
        }
        Ok(())
    }

    /// PUTs a manifest under a tag or its digest.
    pub fn manifest(&self, repo: &str, m: &Blob, reference: &str) -> Result<()> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let mut r = self.send(
            repo,
            self.agent.put(&url).header("content-type", &m.media_type),
            &m.bytes,
        )?;
        if r.status() != 201 {
            let body = r.body_mut().read_to_string().unwrap_or_default();
            bail!(
                "putting manifest {repo}:{reference}: HTTP {}: {body}",
                r.status()
            );
        }
        Ok(())
    }

    /// Pushes an image's blobs and manifest under each tag (by digest when none).
    pub fn image(&self, repo: &str, img: &Image, tags: &[&str]) -> Result<()> {
        for b in img.layers.iter().chain([&img.config]) {
            self.blob(repo, b)?;
        }
        if tags.is_empty() {
            return self.manifest(repo, &img.manifest, &img.manifest.digest);
        }
        for t in tags {
            self.manifest(repo, &img.manifest, t)?;
        }
        Ok(())
    }

    /// Pushes every child of an index by digest, then the index under each tag.
    pub fn index(&self, repo: &str, idx: &Index, tags: &[&str]) -> Result<()> {
        for child in &idx.children {
            self.image(repo, child, &[])?;
        }
        for t in tags {
            self.manifest(repo, &idx.index, t)?;
        }
        Ok(())
    }
}

impl Seeded {
    /// Builds the images (pure, deterministic).
    pub fn build() -> Seeded {
        let rich = rich();
        Seeded {
            signed: referrers_of(&rich),
            rich,
            multi: multi(),
            many_layers: many_layers(MANY_LAYERS),
        }
    }

    /// Pushes the open registry's content under `prefix` (`lab`, `public`, `private`):
    /// `<prefix>/rich`, `<prefix>/multi` (tags `v1`, `latest`), and with `all`, also
    /// `<prefix>/many-tags` (150 tags), `<prefix>/many-layers`, `<prefix>/versions`
    /// ([`VERSION_TAGS`]) and `<prefix>/inventory` ([`crate::image::inventory`]).
    pub fn push(&self, target: &Target, prefix: &str, all: bool) -> anyhow::Result<()> {
        target.image(&format!("{prefix}/rich"), &self.rich, &["v1", "latest"])?;
        target.index(&format!("{prefix}/multi"), &self.multi, &["v1", "latest"])?;
        if all {
            target.image(&format!("{prefix}/many-layers"), &self.many_layers, &["v1"])?;
            let names = many_tag_names();
            let tags: Vec<&str> = names.iter().map(String::as_str).collect();
            target.image(&format!("{prefix}/many-tags"), &self.rich, &tags)?;
            target.image(&format!("{prefix}/versions"), &self.rich, VERSION_TAGS)?;
            crate::image::push_inventory(target, &format!("{prefix}/inventory"))?;
            if prefix == "public" {
                // The token registry's pager lies about one digest of this one.
                crate::image::push_inventory(target, "public/inventory-liar")?;
            }
            target.image(&format!("{prefix}/fs"), &fs_image(), &["v1"])?;
            target.image(&format!("{prefix}/overlay"), &overlay_image(), &["v1"])?;
            target.image(&format!("{prefix}/esgz"), &estargz_image(), &["v1"])?;
            target.image(&format!("{prefix}/zstd"), &zstd_image(), &["v1"])?;
            if prefix == "lab" {
                let img = crate::image::dpkg_image();
                target.image(&format!("{prefix}/dpkg"), &img, &["v1"])?;
                target.image(
                    &format!("{prefix}/apk"),
                    &crate::image::apk_image(),
                    &["v1"],
                )?;
                let distroless = crate::image::distroless_image();
                target.image(&format!("{prefix}/distroless"), &distroless, &["v1"])?;
                let go = crate::image::gobin_image();
                target.image(&format!("{prefix}/gobin"), &go, &["v1"])?;
                let a = crate::image::pair_image(true);
                target.image(&format!("{prefix}/pair-a"), &a, &["v1"])?;
                let b = crate::image::pair_image(false);
                target.image(&format!("{prefix}/pair-b"), &b, &["v1"])?;
            }
            let bad = format!("sha256:{}", "0".repeat(64));
            target.image(
                &format!("{prefix}/esgz"),
                &estargz_image_annotated(Some(&bad)),
                &["badtoc"],
            )?;
            let signed = format!("{prefix}/signed");
            target.image(&signed, &self.rich, &["v1"])?;
            for a in &self.signed.artifacts {
                target.image(&signed, a, &[])?;
            }
            target.manifest(&signed, &self.signed.index, &self.signed.tag)?;
        }
        Ok(())
    }
}
