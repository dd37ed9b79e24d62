//! Registry search through the catalog endpoint (`/v2/_catalog`), which the registries
//! this project talks to (Debian's docker-registry, distribution) support; registries without
//! it answer with a clear error. registries.conf location rewrites are followed: a search on
//! `docker.io` lists the rewritten location's repositories under the `docker.io/` prefix.

use crate::error::{Error, Result};
use crate::images::registry::RegistryClient;
use crate::images::Credentials;
use crate::registries::RegistriesConf;

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// The registry searched (`docker.io`).
    pub index: String,
    /// `registry/repository`.
    pub name: String,
    /// Tags, when listing tags was asked for.
    pub tags: Vec<String>,
}

/// Searches `term` (`[registry/]text`) in the given registry or the unqualified-search ones.
pub async fn search(
    reg: &RegistriesConf,
    term: &str,
    limit: usize,
    list_tags: bool,
    creds: Option<&Credentials>,
) -> Result<Vec<SearchResult>> {
    let (registries, text) = match term.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            (vec![host.to_string()], rest.to_string())
        }
        _ => (reg.unqualified_search_registries.clone(), term.to_string()),
    };
    if registries.is_empty() {
        return Err(Error::InvalidArg(
            "no registries to search: name one in the term or set unqualified-search-registries"
                .into(),
        ));
    }
    let limit = if limit == 0 { 25 } else { limit };
    let mut out = Vec::new();
    let mut last_err = None;
    for index in registries {
        // Where the registry's repositories really are, and the path prefix they have there.
        let (host, prefix, insecure) = match reg.find(&index) {
            Some(r) => {
                let loc = r.location.clone();
                match loc.split_once('/') {
                    Some((h, p)) => (h.to_string(), format!("{p}/"), r.insecure),
                    None => (loc, String::new(), r.insecure),
                }
            }
            None => (index.clone(), String::new(), false),
        };
        let client = RegistryClient::connect(&host, insecure, creds).await;
        let repos = match client.catalog(&host, 1000).await {
            Ok(r) => r,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        for repo in repos {
            let Some(path) = repo.strip_prefix(&prefix) else {
                continue;
            };
            if !path.contains(&text) {
                continue;
            }
            let name = format!("{index}/{path}");
            let tags = if list_tags {
                let r = crate::images::ImageRef {
                    registry: host.clone(),
                    repository: repo.clone(),
                    tag: None,
                    digest: None,
                };
                client.tags(&r).await.unwrap_or_default()
            } else {
                Vec::new()
            };
            out.push(SearchResult {
                index: index.clone(),
                name,
                tags,
            });
            if out.len() >= limit {
                return Ok(out);
            }
        }
    }
    if out.is_empty() {
        if let Some(e) = last_err {
            return Err(e);
        }
    }
    Ok(out)
}
