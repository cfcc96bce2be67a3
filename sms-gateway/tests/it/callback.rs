//! The delivery-status endpoint, over real HTTP.

use std::time::Duration;

use sms_gateway::local_provider::Reply;
use sms_gateway::{delivery_status_router, sign, Secret, State, SIGNATURE_HEADER};

use crate::{enqueue, finished, options, rig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_delivery_report_marks_delivered_and_unsigned_is_refused() {
    let r = rig(|_| Reply::Accept, Duration::from_secs(5), options()).await;
    let id = enqueue(&r.outbox, "c1");
    let sent = finished(&r.outbox, id).await;
    let provider_id = sent.provider_id.clone().unwrap();

    let secret = Secret::new("callback-secret");
    let app = delivery_status_router(r.outbox.clone(), secret.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms/status", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();

    let body = format!(
        r#"{{"id": {provider_id}, "msisdn": 4522334455, "status": "DELIVERED", "time": 1}}"#
    );
    let unsigned = client.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let wrong = client
        .post(&url)
        .header(
            SIGNATURE_HEADER,
            sign(&Secret::new("other"), body.as_bytes()),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body_json: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body_json["code"], "unauthorized");
    assert_eq!(r.outbox.status(id).unwrap().unwrap().state, State::Sent);

    let ok = client
        .post(&url)
        .header(SIGNATURE_HEADER, sign(&secret, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        r.outbox.status(id).unwrap().unwrap().state,
        State::Delivered
    );

    let unknown = r#"{"id": 1, "status": "UNDELIVERED"}"#;
    let resp = client
        .post(&url)
        .bearer_auth("callback-secret")
        .body(unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let c = r.outbox.counts().unwrap();
    assert_eq!((c.sent, c.delivered), (0, 1));
}
