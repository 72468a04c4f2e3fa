use super::*;

fn counts(pairs: &[(&'static str, &str, u64, u64)]) -> CallCounts {
    CallCounts {
        by_operation: pairs
            .iter()
            .map(|(service, op, calls, attempts)| {
                (
                    (*service, op.to_string()),
                    OpCount {
                        calls: *calls,
                        attempts: *attempts,
                        ..OpCount::default()
                    },
                )
            })
            .collect(),
    }
}

#[test]
fn since_keeps_only_what_changed() {
    let before = counts(&[("ecs", "ListTasks", 2, 2), ("dynamodb", "Query", 1, 1)]);
    let after = counts(&[
        ("ecs", "ListTasks", 3, 4),
        ("dynamodb", "Query", 1, 1),
        ("cloudwatch", "GetMetricData", 1, 1),
    ]);
    let diff = after.since(&before);
    assert_eq!(diff.calls("ListTasks"), 1);
    assert_eq!(diff.attempts("ListTasks"), 2);
    assert_eq!(diff.calls("Query"), 0);
    assert_eq!(diff.total_calls(), 2);
    assert_eq!(diff.iter().count(), 2);
    assert_eq!(
        diff.to_string(),
        "GetMetricData=1 ListTasks=1 (2 calls, 3 attempts)"
    );
}

#[test]
fn take_resets() {
    let counter = CallCounter::new();
    counter.inner.lock().by_operation.insert(
        ("dynamodb", "Query".into()),
        OpCount {
            calls: 1,
            attempts: 1,
            ..OpCount::default()
        },
    );
    assert_eq!(counter.take().total_calls(), 1);
    assert_eq!(counter.snapshot().total_calls(), 0);
}

#[test]
fn error_kinds_follow_status_and_code() {
    assert_eq!(
        ErrorKind::of_response(400, Some("ThrottlingException")),
        ErrorKind::Throttling
    );
    assert_eq!(ErrorKind::of_response(429, None), ErrorKind::Throttling);
    assert_eq!(
        ErrorKind::of_response(503, Some("ServiceUnavailable")),
        ErrorKind::Server
    );
    assert_eq!(
        ErrorKind::of_response(403, Some("AccessDeniedException")),
        ErrorKind::Client
    );
    assert_eq!(ErrorKind::of_response(200, None), ErrorKind::Other);
}

#[test]
fn error_codes_come_from_the_header_or_an_xml_body() {
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    let status = StatusCode::try_from(400).unwrap();
    let mut json = HttpResponse::new(status, SdkBody::empty());
    json.headers_mut().insert(
        "x-amzn-errortype",
        "ThrottlingException:http://internal.amazon.com/coral/",
    );
    assert_eq!(error_code(&json).as_deref(), Some("ThrottlingException"));
    let xml = HttpResponse::new(
        status,
        SdkBody::from(
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code></Error></ErrorResponse>",
        ),
    );
    assert_eq!(error_code(&xml).as_deref(), Some("Throttling"));
}

#[test]
fn the_exposition_has_help_and_type_and_labels_by_service_and_operation() {
    let counter = CallCounter::new();
    let mut errors = [0; 5];
    errors[ErrorKind::Throttling as usize] = 2;
    counter.inner.lock().by_operation.insert(
        ("ecs", "DescribeServices".into()),
        OpCount {
            calls: 3,
            attempts: 7,
            errors,
        },
    );
    let mut out = String::new();
    counter.collect(&mut out);
    for family in [
        "autoscaler_aws_calls_total",
        "autoscaler_aws_call_attempts_total",
        "autoscaler_aws_call_errors_total",
    ] {
        assert!(out.contains(&format!("# HELP {family} ")), "{out}");
        assert!(out.contains(&format!("# TYPE {family} counter")), "{out}");
    }
    assert!(
        out.contains(
            "autoscaler_aws_calls_total{service=\"ecs\",operation=\"DescribeServices\"} 3"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "autoscaler_aws_call_attempts_total{service=\"ecs\",operation=\"DescribeServices\"} 7"
        ),
        "{out}"
    );
    assert!(
        out.contains("autoscaler_aws_call_errors_total{service=\"ecs\",operation=\"DescribeServices\",kind=\"throttling\"} 2"),
        "{out}"
    );
    assert!(!out.contains("kind=\"server\""), "{out}");
}

#[test]
fn error_kinds_are_labelled_in_lowercase() {
    assert_eq!(
        ErrorKind::ALL.map(ErrorKind::label),
        ["throttling", "server", "client", "timeout", "other"]
    );
}
