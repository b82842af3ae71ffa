//! Adjust Attribute (KMIP 2.x) through the request dispatcher on a real node.

mod common;

use clavis::kmip::enums::{
    adjustment_type as at, object_type as ot, operation as op, result_status as rs,
};
use clavis::kmip::ops::process;
use clavis::kmip::tags as t;
use clavis::kmip::ttlv::{Ttlv, Value};
use clavis::service::Principal;
use common::node::{NodeDir, SOFTWARE_ROT};

fn request(op: u32, payload: Vec<Ttlv>) -> Ttlv {
    Ttlv::structure(
        t::REQUEST_MESSAGE,
        vec![
            Ttlv::structure(
                t::REQUEST_HEADER,
                vec![
                    Ttlv::structure(
                        t::PROTOCOL_VERSION,
                        vec![
                            Ttlv::int(t::PROTOCOL_VERSION_MAJOR, 2),
                            Ttlv::int(t::PROTOCOL_VERSION_MINOR, 1),
                        ],
                    ),
                    Ttlv::int(t::BATCH_COUNT, 1),
                ],
            ),
            Ttlv::structure(
                t::BATCH_ITEM,
                vec![
                    Ttlv::enumeration(t::OPERATION, op),
                    Ttlv::structure(t::REQUEST_PAYLOAD, payload),
                ],
            ),
        ],
    )
}

fn item(resp: &Ttlv) -> &Ttlv {
    resp.child(t::BATCH_ITEM).expect("batch item")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adjust_moves_a_date_and_refuses_what_cannot_be_adjusted() {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    let who = Principal::system("admin");
    let svc = &node.service;
    let register = request(
        op::REGISTER,
        vec![
            Ttlv::enumeration(t::OBJECT_TYPE, ot::SECRET_DATA),
            Ttlv::structure(
                t::ATTRIBUTES,
                vec![Ttlv::datetime(t::PROTECT_STOP_DATE, 1_000_000)],
            ),
            Ttlv::structure(
                t::SECRET_DATA,
                vec![
                    Ttlv::enumeration(t::SECRET_DATA_TYPE, 1),
                    Ttlv::structure(
                        t::KEY_BLOCK,
                        vec![
                            Ttlv::enumeration(t::KEY_FORMAT_TYPE, 2),
                            Ttlv::structure(
                                t::KEY_VALUE,
                                vec![Ttlv::bytes(t::KEY_MATERIAL, b"pw".to_vec())],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    );
    let resp = process(svc, &who, &register).await;
    let id = match &item(&resp)
        .child(t::RESPONSE_PAYLOAD)
        .and_then(|p| p.child(t::UNIQUE_IDENTIFIER))
        .expect("id")
        .value
    {
        Value::TextString(s) => s.clone(),
        other => panic!("{other:?}"),
    };
    let adjust = |kind: u32, tag: u32, amount: Option<Ttlv>| {
        let mut p = vec![
            Ttlv::text(t::UNIQUE_IDENTIFIER, id.clone()),
            Ttlv::enumeration(t::ATTRIBUTE_REFERENCE, tag),
            Ttlv::enumeration(t::ADJUSTMENT_TYPE, kind),
        ];
        p.extend(amount);
        request(op::ADJUST_ATTRIBUTE, p)
    };
    let resp = process(
        svc,
        &who,
        &adjust(
            at::INCREMENT,
            t::PROTECT_STOP_DATE,
            Some(Ttlv {
                tag: t::ADJUSTMENT_VALUE,
                value: Value::Interval(86_400),
            }),
        ),
    )
    .await;
    assert_eq!(
        item(&resp).child(t::RESULT_STATUS).map(|c| c.value.clone()),
        Some(Value::Enumeration(rs::SUCCESS)),
        "{resp:?}"
    );
    let get = request(
        op::GET_ATTRIBUTES,
        vec![
            Ttlv::text(t::UNIQUE_IDENTIFIER, id.clone()),
            Ttlv::enumeration(t::ATTRIBUTE_REFERENCE, t::PROTECT_STOP_DATE),
        ],
    );
    let resp = process(svc, &who, &get).await;
    let attrs = item(&resp)
        .child(t::RESPONSE_PAYLOAD)
        .and_then(|p| p.child(t::ATTRIBUTES))
        .expect("attributes");
    assert_eq!(
        attrs.child(t::PROTECT_STOP_DATE).map(|c| c.value.clone()),
        Some(Value::DateTime(1_086_400))
    );

    // Server-owned attributes and absent attributes are refused, and nothing changes.
    let before = svc.store().last_seq().await.expect("seq");
    for (tag, kind) in [
        (t::INITIAL_DATE, at::INCREMENT),
        (t::PROCESS_START_DATE, at::INCREMENT),
        (t::PROTECT_STOP_DATE, at::NEGATE),
    ] {
        let resp = process(svc, &who, &adjust(kind, tag, None)).await;
        assert_eq!(
            item(&resp).child(t::RESULT_STATUS).map(|c| c.value.clone()),
            Some(Value::Enumeration(rs::OPERATION_FAILED)),
            "{resp:?}"
        );
    }
    assert_eq!(svc.store().last_seq().await.expect("seq"), before);
    node.stop().await;
}
