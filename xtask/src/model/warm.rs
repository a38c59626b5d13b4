//! The referrers API (OCI 1.1), and warm runs: what a caller keeps across runs.

use super::*;

pub(super) fn scenarios(out: &mut Vec<(&'static str, Scenario)>) {
    let rich = image::rich();
    let multi = image::multi();
    let amd64 = &multi.children[1];
    let m_url = format!("{REG}/v2/team/app/manifests/v1");
    let c_url = format!("{REG}/v2/team/app/blobs/{}", rich.config.digest);
    // --- Referrers API (OCI 1.1); distribution 2.8 has none, so the lab cannot show it ---
    let sig_type = "application/vnd.dev.cosign.artifact.sig.v1+json";
    let sbom_type = "application/spdx+json";
    let page1 = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{a}","size":600,"artifactType":"{sig_type}","annotations":{{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}}}}]}}"#,
        a = "a".repeat(64)
    );
    let page2 = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{b}","size":700,"artifactType":"{sbom_type}"}}]}}"#,
        b = "b".repeat(64)
    );
    let referrers_url = format!("{REG}/v2/team/app/referrers/{}", rich.manifest.digest);
    let oci_index = [("accept", "application/vnd.oci.image.index.v1+json")];
    let index_type = [("content-type", "application/vnd.oci.image.index.v1+json")];
    out.push(("model-referrers-api-pages", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "referrers"),
          ("description", "the OCI 1.1 referrers API: an index of referrers, paged with Link (OCI distribution spec 1.1)")],
        vec![
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(req("GET", &referrers_url, &oci_index),
               resp(200, &[index_type[0], ("link", &format!(r#"<{referrers_url}?last=a>; rel="next""#))], page1.as_bytes())),
            ex(req("GET", &format!("{referrers_url}?last=a"), &oci_index), resp(200, &index_type, page2.as_bytes())),
        ],
    )));
    out.push(("model-referrers-api-filtered", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "referrers"), ("artifact-type", sbom_type),
          ("description", "artifactType filtering: asked of the registry, and applied again by the client when the registry ignores it (no OCI-Filters-Applied)")],
        vec![
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(req("GET", &format!("{referrers_url}?artifactType=application%2Fspdx%2Bjson"), &oci_index),
               resp(200, &index_type, format!(
                   r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{},{}]}}"#,
                   &page1[page1.find("[{").unwrap() + 1..page1.rfind("]}").unwrap()],
                   &page2[page2.find("[{").unwrap() + 1..page2.rfind("]}").unwrap()]
               ).as_bytes())),
        ],
    )));

    // --- Warm runs (issue 9): what a caller keeps across runs ---
    out.push(("model-warm-known-challenge", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("learnt-from", "model-bearer-anonymous"),
          ("description", "the challenge was learnt by an earlier run (its token has expired): the token is fetched before the first request, no 401 round trip")],
        vec![
            ex(req("GET", TOKEN_URL, &[]), token(r#"{"token":"anon-token-2","expires_in":300}"#)),
            ex(manifest_req(&m_url, Some("Bearer anon-token-2")), ok_manifest(&rich)),
            ex(blob_req(&c_url, Some("Bearer anon-token-2")), ok_blob(&rich)),
        ],
    )));
    out.push(("model-warm-head-revalidation", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("known-from", "model-bearer-anonymous"),
          ("description", "a warm cache holds the manifest and config: the tag is revalidated with one HEAD, everything else comes from the cache")],
        vec![
            ex(req("HEAD", &m_url, &[("accept", ACCEPT)]),
               resp(200, &[("content-type", rich.manifest.media_type.as_str()), ("docker-content-digest", rich.manifest.digest.as_str())], b"")),
        ],
    )));
    out.push(("model-warm-tag-moved", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("known-from", "model-bearer-anonymous"),
          ("description", "a warm cache, but the tag moved: the HEAD names another digest, so the new manifest and its config are fetched (a moved tag is never answered from the cache)")],
        vec![
            ex(req("HEAD", &m_url, &[("accept", ACCEPT)]),
               resp(200, &[("content-type", amd64.manifest.media_type.as_str()), ("docker-content-digest", amd64.manifest.digest.as_str())], b"")),
            ex(manifest_req(&m_url, None), ok_manifest(amd64)),
            ex(blob_req(&format!("{REG}/v2/team/app/blobs/{}", amd64.config.digest), None), ok_blob(amd64)),
        ],
    )));
    out.push((
        "model-warm-pinned",
        scenario(
            &[
                (
                    "reference",
                    &format!("registry.example/team/app@{}", rich.manifest.digest),
                ),
                ("goal", "inspect"),
                ("known-from", "model-bearer-anonymous"),
                (
                    "description",
                    "a digest-pinned reference the cache holds: no request at all",
                ),
            ],
            vec![],
        ),
    ));
}
