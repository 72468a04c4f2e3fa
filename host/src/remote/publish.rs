//! `autoscaler policy publish`'s upload: PutObject of a checked policy.
//! Only an operator (or a CI job) runs it; the host never writes to S3, so
//! its role has no `s3:PutObject` (deploy/iam-policy.json).

use aws_sdk_s3::primitives::ByteStream;

use super::S3Url;
use super::s3::{CALL_TIMEOUT, S3Error, S3Store, classify};

impl S3Store {
    /// PutObject of `bytes` at `url`; returns the new ETag.
    pub async fn put(&self, url: &S3Url, bytes: Vec<u8>) -> Result<Option<String>, S3Error> {
        let call = self
            .client
            .put_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .content_type("application/wasm")
            .body(ByteStream::from(bytes))
            .send();
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(out)) => Ok(out.e_tag().map(str::to_string)),
            Ok(Err(e)) => Err(classify(url, &e)),
            Err(_) => Err(S3Error::Unreachable {
                url: url.clone(),
                message: format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
            }),
        }
    }
}
