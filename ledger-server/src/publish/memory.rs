//! An in-memory bucket for the publisher's unit tests: it keeps the objects
//! and the order of writes, and can be switched off like a store that is down.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::PublishError;
use super::bucket::{Bucket, Created, Object};

/// An object's bytes and `Cache-Control`.
pub(super) type Stored = (Vec<u8>, &'static str);

#[derive(Default)]
pub(super) struct MemBucket {
    pub(super) objects: Mutex<BTreeMap<String, Stored>>,
    /// Every successful write and delete, in order: `PUT path`, `DELETE path`.
    pub(super) log: Mutex<Vec<String>>,
    /// While set, every request fails.
    pub(super) down: AtomicBool,
}

impl MemBucket {
    fn up(&self, op: &'static str, path: &str) -> Result<(), PublishError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PublishError::Bucket {
                op,
                path: path.to_owned(),
                reason: "connection refused".into(),
            });
        }
        Ok(())
    }

    fn write(&self, o: &Object<'_>) {
        self.objects
            .lock()
            .unwrap()
            .insert(o.path.to_owned(), (o.body.clone(), o.cache_control));
        self.log.lock().unwrap().push(format!("PUT {}", o.path));
    }
}

impl Bucket for MemBucket {
    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, PublishError> {
        self.up("GET", path)?;
        Ok(self.objects.lock().unwrap().get(path).map(|o| o.0.clone()))
    }

    async fn create(&self, object: Object<'_>) -> Result<Created, PublishError> {
        self.up("PUT", object.path)?;
        if let Some(o) = self.objects.lock().unwrap().get(object.path) {
            return Ok(Created::Existing(o.0.clone()));
        }
        self.write(&object);
        Ok(Created::New)
    }

    async fn put(&self, object: Object<'_>) -> Result<(), PublishError> {
        self.up("PUT", object.path)?;
        self.write(&object);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PublishError> {
        self.up("LIST", prefix)?;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn delete(&self, path: &str) -> Result<(), PublishError> {
        self.up("DELETE", path)?;
        self.objects.lock().unwrap().remove(path);
        self.log.lock().unwrap().push(format!("DELETE {path}"));
        Ok(())
    }
}
