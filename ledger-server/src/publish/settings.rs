//! The `publish_*` settings (flags, `LEDGER_PUBLISH_*` variables and keys of
//! the config file, like every other server setting; README "Publishing to a
//! bucket").

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::PublishError;
use super::bucket::S3Config;
use super::publisher::PublishLimits;
use crate::config::ServeOptions;

/// Resolved publishing settings.
#[derive(Clone, Debug)]
pub struct PublishSettings {
    /// The bucket.
    pub s3: S3Config,
    /// The publisher's limits.
    pub limits: PublishLimits,
}

/// A credentials file (`publish_credentials`): TOML with these two keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    access_key_id: String,
    secret_access_key: String,
}

fn bad(msg: impl Into<String>) -> PublishError {
    PublishError::Settings(msg.into())
}

fn read_credentials(path: &Path) -> Result<(String, String), PublishError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(format!(
            "reading publish_credentials {}: {e}",
            path.display()
        ))
    })?;
    let c: CredentialsFile = toml::from_str(&text).map_err(|e| {
        bad(format!(
            "publish_credentials {}: {e} (expected access_key_id and secret_access_key)",
            path.display()
        ))
    })?;
    Ok((c.access_key_id, c.secret_access_key))
}

/// The access key: `publish_access_key_id` with `publish_secret_access_key`,
/// else the file `publish_credentials`, else `AWS_ACCESS_KEY_ID` with
/// `AWS_SECRET_ACCESS_KEY`.
fn credentials(
    flags: &ServeOptions,
    file: &ServeOptions,
) -> Result<(String, String), PublishError> {
    let id = flags
        .publish_access_key_id
        .clone()
        .or(file.publish_access_key_id.clone());
    let secret = flags
        .publish_secret_access_key
        .clone()
        .or(file.publish_secret_access_key.clone());
    match (id, secret) {
        (Some(id), Some(secret)) => return Ok((id, secret)),
        (None, None) => {}
        _ => {
            return Err(bad(
                "publish_access_key_id and publish_secret_access_key go together",
            ));
        }
    }
    if let Some(path) = flags
        .publish_credentials
        .as_ref()
        .or(file.publish_credentials.as_ref())
    {
        return read_credentials(path);
    }
    match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) => Ok((id, secret)),
        _ => Err(bad(
            "publishing needs credentials: publish_access_key_id and publish_secret_access_key, \
             a publish_credentials file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )),
    }
}

/// The publishing settings of `flags` over `file`, or `None` if no
/// `publish_endpoint` is set.
///
/// # Errors
/// [`PublishError::Settings`] for a setting that is missing or out of range.
pub fn resolve(
    flags: &ServeOptions,
    file: &ServeOptions,
) -> Result<Option<PublishSettings>, PublishError> {
    macro_rules! pick {
        ($f:ident) => {
            flags.$f.clone().or(file.$f.clone())
        };
    }
    let Some(endpoint) = pick!(publish_endpoint) else {
        return Ok(None);
    };
    let endpoint: reqwest::Url = endpoint
        .parse()
        .map_err(|e| bad(format!("publish_endpoint {endpoint:?}: {e}")))?;
    if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
        return Err(bad(format!(
            "publish_endpoint {endpoint}: an http:// or https:// URL with a host"
        )));
    }
    let bucket =
        pick!(publish_bucket).ok_or_else(|| bad("publish_endpoint needs publish_bucket"))?;
    if bucket.is_empty() || bucket.contains('/') {
        return Err(bad(format!("publish_bucket {bucket:?}: not a bucket name")));
    }
    let mut prefix = pick!(publish_prefix).unwrap_or_default();
    if prefix.starts_with('/') || prefix.contains("//") {
        return Err(bad(format!(
            "publish_prefix {prefix:?}: a key prefix such as \"logs/egov\", without a leading /"
        )));
    }
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let concurrency = pick!(publish_concurrency).unwrap_or(8);
    if !(1..=256).contains(&concurrency) {
        return Err(bad("publish_concurrency must be 1 to 256"));
    }
    let max_backlog = pick!(publish_max_backlog).unwrap_or(1_000_000);
    if max_backlog == 0 {
        return Err(bad("publish_max_backlog must be at least 1"));
    }
    let timeout_ms = pick!(publish_timeout_ms).unwrap_or(10_000);
    if !(1..=600_000).contains(&timeout_ms) {
        return Err(bad("publish_timeout_ms must be 1 to 600000"));
    }
    Ok(Some(PublishSettings {
        s3: S3Config {
            endpoint,
            bucket,
            region: pick!(publish_region).unwrap_or_else(|| "us-east-1".into()),
            virtual_host: pick!(publish_virtual_host).unwrap_or(false),
            prefix,
            credentials: credentials(flags, file)?,
            timeout: Duration::from_millis(timeout_ms),
        },
        limits: PublishLimits {
            concurrency,
            max_backlog,
            ..PublishLimits::default()
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut ServeOptions)) -> ServeOptions {
        let mut o = ServeOptions {
            publish_endpoint: Some("http://127.0.0.1:8333".into()),
            publish_bucket: Some("ledger".into()),
            publish_access_key_id: Some("id".into()),
            publish_secret_access_key: Some("secret".into()),
            ..ServeOptions::default()
        };
        f(&mut o);
        o
    }

    #[test]
    fn defaults_and_layering() {
        let none = ServeOptions::default();
        assert!(resolve(&none, &none).unwrap().is_none());
        let s = resolve(&with(|_| {}), &none).unwrap().unwrap();
        assert_eq!(s.s3.region, "us-east-1");
        assert_eq!(s.s3.prefix, "");
        assert!(!s.s3.virtual_host);
        assert_eq!(s.limits.concurrency, 8);
        assert_eq!(s.limits.max_backlog, 1_000_000);
        assert_eq!(s.s3.timeout, Duration::from_secs(10));
        let file = ServeOptions {
            publish_prefix: Some("logs/egov".into()),
            publish_region: Some("eu-central-1".into()),
            publish_concurrency: Some(3),
            ..ServeOptions::default()
        };
        let s = resolve(&with(|o| o.publish_concurrency = Some(5)), &file)
            .unwrap()
            .unwrap();
        assert_eq!(s.s3.prefix, "logs/egov/");
        assert_eq!(s.s3.region, "eu-central-1");
        assert_eq!(s.limits.concurrency, 5, "the flag wins over the file");
        assert!(
            !format!("{s:?}").contains("secret"),
            "the secret is not shown"
        );
    }

    #[test]
    fn a_credentials_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        std::fs::write(
            &path,
            "access_key_id = \"AK\"\nsecret_access_key = \"SK\"\n",
        )
        .unwrap();
        let o = with(|o| {
            o.publish_access_key_id = None;
            o.publish_secret_access_key = None;
            o.publish_credentials = Some(path.clone());
        });
        let s = resolve(&o, &ServeOptions::default()).unwrap().unwrap();
        assert_eq!(s.s3.credentials, ("AK".into(), "SK".into()));
        std::fs::write(&path, "access_key_id = \"AK\"\n").unwrap();
        let err = resolve(&o, &ServeOptions::default()).unwrap_err();
        assert!(err.to_string().contains("secret_access_key"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused() {
        let none = ServeOptions::default();
        for (o, why) in [
            (
                with(|o| o.publish_endpoint = Some("ftp://x".into())),
                "http",
            ),
            (
                with(|o| o.publish_endpoint = Some("not a url".into())),
                "publish_endpoint",
            ),
            (with(|o| o.publish_bucket = None), "publish_bucket"),
            (
                with(|o| o.publish_bucket = Some("a/b".into())),
                "bucket name",
            ),
            (
                with(|o| o.publish_prefix = Some("/logs".into())),
                "leading /",
            ),
            (
                with(|o| o.publish_concurrency = Some(0)),
                "publish_concurrency",
            ),
            (
                with(|o| o.publish_max_backlog = Some(0)),
                "publish_max_backlog",
            ),
            (
                with(|o| o.publish_timeout_ms = Some(0)),
                "publish_timeout_ms",
            ),
            (with(|o| o.publish_secret_access_key = None), "go together"),
        ] {
            let err = resolve(&o, &none).unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn every_setting_is_a_flag() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            opts: ServeOptions,
        }
        let cli = <Cli as clap::Parser>::try_parse_from([
            "ledger-server",
            "--publish-endpoint",
            "https://s3.eu-central-1.amazonaws.com",
            "--publish-bucket",
            "egov",
            "--publish-region",
            "eu-central-1",
            "--publish-prefix",
            "logs/",
            "--publish-virtual-host",
            "true",
            "--publish-access-key-id",
            "AK",
            "--publish-secret-access-key",
            "SK",
            "--publish-max-backlog",
            "500",
            "--publish-concurrency",
            "4",
            "--publish-timeout-ms",
            "2500",
        ])
        .unwrap();
        let s = resolve(&cli.opts, &ServeOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            s.s3.endpoint.as_str(),
            "https://s3.eu-central-1.amazonaws.com/"
        );
        assert_eq!(s.s3.bucket, "egov");
        assert_eq!(s.s3.region, "eu-central-1");
        assert_eq!(s.s3.prefix, "logs/");
        assert!(s.s3.virtual_host);
        assert_eq!(s.s3.credentials, ("AK".into(), "SK".into()));
        assert_eq!(s.limits.max_backlog, 500);
        assert_eq!(s.limits.concurrency, 4);
        assert_eq!(s.s3.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn the_config_file_takes_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.toml");
        std::fs::write(
            &path,
            "data = \"/srv/ledger\"\npublish_endpoint = \"http://127.0.0.1:8333\"\n\
             publish_bucket = \"ledger\"\npublish_region = \"garage\"\npublish_prefix = \"p\"\n\
             publish_virtual_host = false\npublish_access_key_id = \"AK\"\n\
             publish_secret_access_key = \"SK\"\npublish_max_backlog = 7\n\
             publish_concurrency = 2\npublish_timeout_ms = 100\n",
        )
        .unwrap();
        let opts = ServeOptions {
            config: Some(path),
            ..ServeOptions::default()
        };
        let s = opts.resolve(None).unwrap().publish.unwrap();
        assert_eq!(s.s3.region, "garage");
        assert_eq!(s.s3.prefix, "p/");
        assert_eq!(s.limits.max_backlog, 7);
        assert_eq!(s.limits.concurrency, 2);
    }
}
