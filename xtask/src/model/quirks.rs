//! Registry quirks, one modelled scenario each (docs/protocol.md §11).

use super::*;

pub(super) fn scenarios(out: &mut Vec<(&'static str, Scenario)>) {
    // Google Container Registry and Artifact Registry: `tags/list` carries a
    // `manifest` map (digest -> imageSizeBytes, mediaType, tag, timeCreatedMs,
    // timeUploadedMs), as https://cloud.google.com/artifact-registry/docs/docker and
    // the GCR API (gcr.io/v2/<repo>/tags/list) answer it; numbers come as strings.
    let rich = image::rich();
    let multi = image::multi();
    let gcr = "https://gcr.io/v2/proj/app/tags/list";
    let page1 = format!(
        r#"{{"child":[],"manifest":{{"{r}":{{"imageSizeBytes":"{rs}","layerId":"","mediaType":"{rt}","tag":["latest","v1"],"timeCreatedMs":"1704164645000","timeUploadedMs":"1767225600000"}}}},"name":"proj/app","tags":["latest","v1"]}}"#,
        r = rich.manifest.digest,
        rs = rich.layers.iter().map(|l| l.bytes.len()).sum::<usize>() + rich.config.bytes.len(),
        rt = rich.manifest.media_type,
    );
    let page2 = format!(
        r#"{{"child":[],"manifest":{{"{m}":{{"imageSizeBytes":"0","layerId":"","mediaType":"{mt}","tag":["multi"],"timeCreatedMs":"0","timeUploadedMs":"1767312000000"}}}},"name":"proj/app","tags":["multi"]}}"#,
        m = multi.index.digest,
        mt = multi.index.media_type,
    );
    out.push(("model-gcr-tags-manifest-map", scenario(
        &[("reference", "gcr.io/proj/app"), ("goal", "tags"), ("page-size", "2"),
          ("description", "GCR and Artifact Registry: tags/list pages carry a manifest map (digest, mediaType, imageSizeBytes, timeCreatedMs, timeUploadedMs as strings): kept as the listing's details, each with its page")],
        vec![
            ex(req("GET", &format!("{gcr}?n=2"), &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json"), ("link", r#"</v2/proj/app/tags/list?n=2&last=v1>; rel="next""#)], page1.as_bytes())),
            ex(req("GET", &format!("{gcr}?n=2&last=v1"), &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json")], page2.as_bytes())),
        ],
    )));
    let rich = image::rich();
    let multi = image::multi();
    let amd64 = &multi.children[1];
    // --- Registry quirks: one modelled scenario each (docs/protocol.md §11 and the issue
    // that asked for them; the cited behaviour is in each description) ---
    let index_headers = [
        ("content-type", multi.index.media_type.as_str()),
        ("docker-content-digest", multi.index.digest.as_str()),
    ];
    let gh = "https://ghcr.io/v2/org/app";
    let gh_token = "https://ghcr.io/token?service=ghcr.io&scope=repository%3Aorg%2Fapp%3Apull&client_id=regpeek";
    out.push(("model-quirk-ghcr-anonymous-index", scenario(
        &[("reference", "ghcr.io/org/app:1.0"), ("goal", "inspect"),
          ("description", "GHCR: a public image still needs an anonymous bearer token (challenge, then a token without credentials); it answers MANIFEST_UNKNOWN unless Accept names the OCI index type, which the full Accept list always does (docs/protocol.md §11)")],
        vec![
            ex(manifest_req(&format!("{gh}/manifests/1.0"), None), unauthorized(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull""#)),
            ex(req("GET", gh_token, &[]), token(r#"{"token":"ghcr-anon"}"#)),
            ex(manifest_req(&format!("{gh}/manifests/1.0"), Some("Bearer ghcr-anon")), resp(200, &index_headers, &multi.index.bytes)),
            ex(manifest_req(&format!("{gh}/manifests/{}", amd64.manifest.digest), Some("Bearer ghcr-anon")), ok_manifest(amd64)),
            ex(blob_req(&format!("{gh}/blobs/{}", amd64.config.digest), Some("Bearer ghcr-anon")), ok_blob(amd64)),
        ],
    )));
    let ar = "https://us-docker.pkg.dev/v2/proj/repo/app";
    out.push(("model-quirk-artifact-registry-no-challenge", scenario(
        &[("reference", "us-docker.pkg.dev/proj/repo/app:v1"), ("goal", "digest"),
          ("description", "GCR / Artifact Registry: a 401 on the manifest without WWW-Authenticate; one GET /v2/ learns the challenge, then the usual token exchange (docs/protocol.md §11)")],
        vec![
            ex(req("HEAD", &format!("{ar}/manifests/v1"), &[("accept", ACCEPT)]), resp(401, &[("content-type", "application/json")], br#"{"errors":[{"code":"UNAUTHORIZED","message":"Unauthorized access."}]}"#)),
            ex(req("GET", "https://us-docker.pkg.dev/v2/", &[]), unauthorized(r#"Bearer realm="https://us-docker.pkg.dev/v2/token",service="us-docker.pkg.dev""#)),
            ex(req("GET", "https://us-docker.pkg.dev/v2/token?service=us-docker.pkg.dev&scope=repository%3Aproj%2Frepo%2Fapp%3Apull&client_id=regpeek", &[]), token(r#"{"token":"ar-anon","expires_in":3600}"#)),
            ex(req("HEAD", &format!("{ar}/manifests/v1"), &[("accept", ACCEPT), ("authorization", "Bearer ar-anon")]), ok_manifest(&rich)),
        ],
    )));
    let ecr = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/team/app";
    let s3 = "https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/a1b2/config?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=0123abcd";
    out.push(("model-quirk-ecr-basic", scenario(
        &[("reference", "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1"), ("goal", "inspect"), ("credentials", "AWS:<redacted>"),
          ("description", "ECR (private): a Basic challenge, credentials (usually from the ecr-login helper) as Basic; blobs come from a signed S3 URL that never sees Authorization (docs/protocol.md §11)")],
        vec![
            ex(manifest_req(&format!("{ecr}/manifests/v1"), None), unauthorized(r#"Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com""#)),
            ex(manifest_req(&format!("{ecr}/manifests/v1"), Some("Basic <redacted>")), ok_manifest(&rich)),
            ex(blob_req(&format!("{ecr}/blobs/{}", rich.config.digest), Some("Basic <redacted>")), resp(307, &[("location", s3)], b"")),
            ex(blob_req(s3, None), ok_blob(&rich)),
        ],
    )));
    let acr = "https://myreg.azurecr.io/v2/app";
    out.push(("model-quirk-acr-refresh-token", scenario(
        &[("reference", "myreg.azurecr.io/app:v1"), ("goal", "digest"), ("identity-token", "00000000-0000-0000-0000-000000000000:<redacted>"),
          ("description", "ACR: realm https://<name>.azurecr.io/oauth2/token; an Entra ID login stores a refresh (identity) token for user 00000000-…, exchanged with the OAuth2 POST flow for an access token (docs/protocol.md §11)")],
        vec![
            ex(req("HEAD", &format!("{acr}/manifests/v1"), &[("accept", ACCEPT)]), unauthorized(r#"Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io",scope="repository:app:pull""#)),
            ex(req("POST", "https://myreg.azurecr.io/oauth2/token", &[("content-type", "application/x-www-form-urlencoded")]), token(r#"{"access_token":"acr-access","refresh_token":"<scrubbed-refresh-token>"}"#)),
            ex(req("HEAD", &format!("{acr}/manifests/v1"), &[("accept", ACCEPT), ("authorization", "Bearer acr-access")]), ok_manifest(&rich)),
        ],
    )));
    let quay_token =
        "https://quay.io/v2/auth?service=quay.io&scope=registry%3Acatalog%3A*&client_id=regpeek";
    out.push(("model-quirk-quay-catalog-auth", scenario(
        &[("reference", "quay.io"), ("goal", "catalog"), ("credentials", "org+robot:<redacted>"),
          ("description", "Quay: _catalog needs authentication (a token for registry:catalog:*) and pages with an opaque next_page cursor in Link [unverified: docs/protocol.md is silent on Quay's catalog]")],
        vec![
            ex(req("GET", "https://quay.io/v2/_catalog", &[("accept", "application/json")]), unauthorized(r#"Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="registry:catalog:*""#)),
            ex(req("GET", quay_token, &[("authorization", "Basic <redacted>")]), token(r#"{"token":"quay-catalog"}"#)),
            ex(req("GET", "https://quay.io/v2/_catalog", &[("accept", "application/json"), ("authorization", "Bearer quay-catalog")]),
               resp(200, &[("content-type", "application/json"), ("link", r#"</v2/_catalog?n=2&next_page=gAAAAABl>; rel="next""#)], br#"{"repositories":["org/a","org/b"]}"#)),
            ex(req("GET", "https://quay.io/v2/_catalog?n=2&next_page=gAAAAABl", &[("accept", "application/json"), ("authorization", "Bearer quay-catalog")]),
               resp(200, &[("content-type", "application/json")], br#"{"repositories":["org/c"]}"#)),
        ],
    )));
    out.push(("model-quirk-quay-no-latest", scenario(
        &[("reference", "quay.io/org/app"), ("goal", "digest"),
          ("description", "Quay: a repository may have no latest tag, so a bare name fails; a HEAD 404 has no body, so the flow asks once more with GET for the error code (MANIFEST_UNKNOWN), and the error says latest was assumed (docs/protocol.md §11)")],
        vec![
            ex(req("HEAD", "https://quay.io/v2/org/app/manifests/latest", &[("accept", ACCEPT)]), resp(404, &[], b"")),
            ex(manifest_req("https://quay.io/v2/org/app/manifests/latest", None), resp(404, &[("content-type", "application/json")], br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#)),
        ],
    )));
    let harbor_token = "https://harbor.example/service/token?service=harbor-registry&scope=repository%3Aproj%2Fapp%3Apull&client_id=regpeek";
    out.push(("model-quirk-harbor-robot-paging", scenario(
        &[("reference", "harbor.example/proj/app"), ("goal", "tags"), ("credentials", "robot$proj+ci:<redacted>"),
          ("description", "Harbor: a project-scoped robot account (robot$proj+ci) as Basic to the token service, then tag pages joined by Link [unverified: docs/protocol.md is silent on Harbor]")],
        vec![
            ex(req("GET", "https://harbor.example/v2/proj/app/tags/list", &[("accept", "application/json")]), unauthorized(r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:proj/app:pull""#)),
            ex(req("GET", harbor_token, &[("authorization", "Basic <redacted>")]), token(r#"{"token":"harbor-robot","expires_in":1800}"#)),
            ex(req("GET", "https://harbor.example/v2/proj/app/tags/list", &[("accept", "application/json"), ("authorization", "Bearer harbor-robot")]),
               resp(200, &[("content-type", "application/json"), ("link", r#"</v2/proj/app/tags/list?last=1.1&n=2>; rel="next""#)], br#"{"name":"proj/app","tags":["1.0","1.1"]}"#)),
            ex(req("GET", "https://harbor.example/v2/proj/app/tags/list?last=1.1&n=2", &[("accept", "application/json"), ("authorization", "Bearer harbor-robot")]),
               resp(200, &[("content-type", "application/json")], br#"{"name":"proj/app","tags":["2.0"]}"#)),
        ],
    )));
    out.push(("model-quirk-artifactory-port-tags", scenario(
        &[("reference", "artifactory.example:8443/app"), ("goal", "tags"),
          ("description", "Artifactory: one port per Docker repository (the port is part of the registry), and tag lists that hold digests as tags; they stay strings (docs/protocol.md §11; ports per repository [unverified])")],
        vec![
            ex(req("GET", "https://artifactory.example:8443/v2/app/tags/list", &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json")], br#"{"name":"app","tags":["1.0","sha256:21215374aadba6f8d7cb1f265b29c9eac176a4a0bbcf7221987b80417e3c10e4","latest"]}"#)),
        ],
    )));
    out.push(("model-quirk-nexus-null-tags", scenario(
        &[("reference", "nexus.example:8082/team/app"), ("goal", "tags"),
          ("description", "Nexus: a connector port per repository, and tag lists with null entries, which are skipped (docs/protocol.md §11)")],
        vec![
            ex(req("GET", "https://nexus.example:8082/v2/team/app/tags/list", &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json")], br#"{"name":"team/app","tags":["1.0",null,"2.0"]}"#)),
        ],
    )));
    let hub_head = "https://registry-1.docker.io/v2/library/nginx/manifests/1.27";
    out.push(("model-quirk-dockerhub-head-ratelimit", scenario(
        &[("reference", "nginx:1.27"), ("goal", "digest"),
          ("description", "Docker Hub: digest uses HEAD, which is not counted as a pull; the token is for the library/ scope; ratelimit-limit and ratelimit-remaining come on the HEAD (docs/protocol.md §9)")],
        vec![
            ex(req("HEAD", hub_head, &[("accept", ACCEPT)]), unauthorized(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#)),
            ex(req("GET", "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull&client_id=regpeek", &[]), token(r#"{"token":"hub-anon","expires_in":300}"#)),
            ex(req("HEAD", hub_head, &[("accept", ACCEPT), ("authorization", "Bearer hub-anon")]),
               resp(200, &[("content-type", multi.index.media_type.as_str()), ("docker-content-digest", multi.index.digest.as_str()), ("ratelimit-limit", "100;w=21600"), ("ratelimit-remaining", "97;w=21600")], b"")),
        ],
    )));
    out.push(("model-quirk-ghcr-429-body", scenario(
        &[("reference", "ghcr.io/org/app:1.0"), ("goal", "digest"),
          ("description", "GHCR: a 429 states its wait only in the body (retry-after: 1.5s, allowed: 44000/minute), as a Go duration; the flow waits that long, not its own backoff, and the batch holds the registry as long (docs/protocol.md §9.1)")],
        vec![
            ex(req("HEAD", &format!("{gh}/manifests/1.0"), &[("accept", ACCEPT)]),
               resp(429, &[("content-type", "application/json")], br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 1.5s, allowed: 44000/minute"}]}"#)),
            ex(req("HEAD", &format!("{gh}/manifests/1.0"), &[("accept", ACCEPT)]),
               resp(200, &[("content-type", rich.manifest.media_type.as_str()), ("docker-content-digest", rich.manifest.digest.as_str())], b"")),
        ],
    )));
    out.push(("model-quirk-quay-429-reset", scenario(
        &[("reference", "quay.io/org/app:v1"), ("goal", "digest"),
          ("description", "Quay: a 429 without Retry-After whose wait is in X-RateLimit-Reset (seconds); the flow waits that long (docs/protocol.md §9.1) [unverified: the header's form is the common X-RateLimit one]")],
        vec![
            ex(req("HEAD", "https://quay.io/v2/org/app/manifests/v1", &[("accept", ACCEPT)]),
               resp(429, &[("x-ratelimit-limit", "50"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "3")], b"")),
            ex(req("HEAD", "https://quay.io/v2/org/app/manifests/v1", &[("accept", ACCEPT)]),
               resp(200, &[("content-type", rich.manifest.media_type.as_str()), ("docker-content-digest", rich.manifest.digest.as_str())], b"")),
        ],
    )));
}
