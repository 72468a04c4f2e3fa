use super::*;

fn wire(name: &str, kind: v2::ParamKind, default: Option<v2::wit::ParamValue>) -> v2::ParamSpec {
    v2::ParamSpec {
        name: name.into(),
        kind,
        default,
        min: None,
        max: None,
        doc: String::new(),
    }
}

fn specs() -> Vec<ParamSpec> {
    let mut buffer = wire(
        "buffer-slots",
        v2::ParamKind::Number,
        Some(v2::wit::ParamValue::Number(10.0)),
    );
    buffer.min = Some(0.0);
    buffer.max = Some(500.0);
    buffer.doc = "Free slots\nkept".into();
    from_wire(vec![
        buffer,
        wire(
            "phases",
            v2::ParamKind::Flag,
            Some(v2::wit::ParamValue::Flag(false)),
        ),
        wire("zone", v2::ParamKind::Text, None),
    ])
    .unwrap()
}

fn map(items: &[(&str, ParamValue)]) -> BTreeMap<String, ParamValue> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn runtime_params_refuse_unknown_wrong_type_and_out_of_range_naming_the_parameter() {
    let specs = specs();
    let p = [Declared {
        policy: "consolidate 1.0.0",
        specs: &specs,
    }];
    assert_eq!(
        check(&map(&[("buffer-slots", ParamValue::Number(20.0))]), &p),
        Ok(())
    );
    assert_eq!(
        check(&map(&[("buffer-slots", ParamValue::Number(500.0))]), &p),
        Ok(())
    );

    let e = check(&map(&[("buffer-slots", ParamValue::Number(900.0))]), &p).unwrap_err();
    assert_eq!(e.name, "buffer-slots");
    assert!(
        e.message
            .contains("\"buffer-slots\" = 900 is out of range: allowed 0 to 500"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("policy consolidate 1.0.0"),
        "{}",
        e.message
    );
    assert!(
        !e.message.contains('\n'),
        "the doc line is escaped: {}",
        e.message
    );

    let e = check(&map(&[("buffer-slots", ParamValue::Number(f64::NAN))]), &p).unwrap_err();
    assert!(e.message.contains("out of range"), "{}", e.message);

    let e = check(&map(&[("phases", ParamValue::Number(1.0))]), &p).unwrap_err();
    assert_eq!(e.name, "phases");
    assert!(
        e.message
            .contains("\"phases\" = 1 is a number, but it must be a flag"),
        "{}",
        e.message
    );

    let e = check(&map(&[("bufer-slots", ParamValue::Number(1.0))]), &p).unwrap_err();
    assert_eq!(e.name, "bufer-slots");
    assert!(
        e.message.contains("\"bufer-slots\" = 1 is not declared by policy consolidate 1.0.0, which reads buffer-slots (number), phases (flag), zone (text)"),
        "{}",
        e.message
    );
}

#[test]
fn runtime_params_unknown_names_are_checked_against_every_policy_of_the_service() {
    let specs = specs();
    let other = from_wire(vec![wire("cpu-high", v2::ParamKind::Number, None)]).unwrap();
    let both = [
        Declared {
            policy: "consolidate 1.0.0",
            specs: &specs,
        },
        Declared {
            policy: "shadow 1.0.0",
            specs: &other,
        },
    ];
    let cfg = map(&[
        ("buffer-slots", ParamValue::Number(1.0)),
        ("cpu-high", ParamValue::Number(80.0)),
    ]);
    assert_eq!(check(&cfg, &both), Ok(()));
    // A policy that declares nothing may read anything: no unknown names then.
    let with_old = [
        Declared {
            policy: "consolidate 1.0.0",
            specs: &specs,
        },
        Declared {
            policy: "session-aware 0.1.0",
            specs: &[],
        },
    ];
    assert_eq!(
        check(
            &map(&[("session-capacity", ParamValue::Number(20.0))]),
            &with_old
        ),
        Ok(())
    );
    // A scenario's shared table: unknown names pass, declared ones are checked.
    let alone = [Declared {
        policy: "consolidate 1.0.0",
        specs: &specs,
    }];
    let shared = map(&[("target-cpu", ParamValue::Number(60.0))]);
    assert_eq!(check_known(&shared, &alone), Ok(()));
    assert!(check(&shared, &alone).is_err());
    let negative = map(&[("buffer-slots", ParamValue::Number(-1.0))]);
    assert!(check_known(&negative, &alone).is_err());
    // ...but a declared name is still type-checked.
    assert!(
        check(
            &map(&[("phases", ParamValue::Text("yes".into()))]),
            &with_old
        )
        .is_err()
    );
}

#[test]
fn runtime_params_defaults_fill_only_what_the_config_leaves_out() {
    let specs = specs();
    let cfg = map(&[("buffer-slots", ParamValue::Number(3.0))]);
    let filled = with_defaults(&cfg, &specs);
    assert!(matches!(filled, Cow::Owned(_)));
    assert_eq!(filled.get("buffer-slots"), Some(&ParamValue::Number(3.0)));
    assert_eq!(filled.get("phases"), Some(&ParamValue::Flag(false)));
    assert_eq!(filled.get("zone"), None, "no default");
    let full = map(&[
        ("buffer-slots", ParamValue::Number(3.0)),
        ("phases", ParamValue::Flag(true)),
    ]);
    assert!(matches!(with_defaults(&full, &specs), Cow::Borrowed(_)));
}

#[test]
fn runtime_params_malformed_declarations_are_refused() {
    let n = v2::ParamKind::Number;
    let bad_default = wire("x", n, Some(v2::wit::ParamValue::Flag(true)));
    assert!(
        from_wire(vec![bad_default])
            .unwrap_err()
            .contains("is a flag, but it must be a number")
    );
    let mut out_of_range = wire("x", n, Some(v2::wit::ParamValue::Number(7.0)));
    out_of_range.max = Some(5.0);
    assert!(
        from_wire(vec![out_of_range])
            .unwrap_err()
            .contains("out of range: allowed at most 5")
    );
    let mut inverted = wire("x", n, None);
    inverted.min = Some(2.0);
    inverted.max = Some(1.0);
    assert!(
        from_wire(vec![inverted])
            .unwrap_err()
            .contains("min 2 over max 1")
    );
    assert!(
        from_wire(vec![wire("x", n, None), wire("x", n, None)])
            .unwrap_err()
            .contains("declared twice")
    );
    let e = from_wire(vec![wire("bad\nname", n, None)]).unwrap_err();
    assert!(e.contains("bad\\nname"), "{e}");
    let mut ranged_flag = wire("f", v2::ParamKind::Flag, None);
    ranged_flag.min = Some(0.0);
    assert!(
        from_wire(vec![ranged_flag])
            .unwrap_err()
            .contains("numbers only")
    );
    let many = (0..=MAX_DECLARED)
        .map(|i| wire(&format!("p{i}"), n, None))
        .collect();
    assert!(from_wire(many).unwrap_err().contains("over the limit"));
}

#[test]
fn param_kinds_are_named_as_the_config_writes_them() {
    let names: Vec<&str> = [ParamKind::Number, ParamKind::Flag, ParamKind::Text]
        .into_iter()
        .map(ParamKind::name)
        .collect();
    assert_eq!(names, ["number", "flag", "text"]);
}
