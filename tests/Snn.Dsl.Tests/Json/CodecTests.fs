module Snn.Dsl.Tests.Json.CodecTests

open Expecto
open Snn.Dsl.Json

type private Settings = { Rate: float; Added: bool }

/// "rate" always written; "added" a field added later, false by default.
let private settings =
    Codec.record (fun r a -> { Rate = r; Added = a })
    |> Codec.fieldOr "rate" _.Rate Codec.float 0.1
    |> Codec.fieldAdded "added" _.Added Codec.bool false
    |> Codec.build

let private text (x: Settings) = (settings.Encode x).ToJsonString()

[<Tests>]
let tests =
    testList
        "Codec"
        [ test "fieldOr writes its field even at its default" {
              Expect.equal (text { Rate = 0.1; Added = true }) """{"rate":0.1,"added":true}""" "both written"
          }

          test "fieldAdded is written only away from its default, so older JSON reads and writes back the same" {
              Expect.equal (text { Rate = 0.1; Added = false }) """{"rate":0.1}""" "left out at its default"

              Expect.equal
                  (Codec.parse "s" settings """{"rate":0.1}""")
                  (Ok { Rate = 0.1; Added = false })
                  "absent: the default"

              Expect.equal
                  (Codec.parse "s" settings """{"rate":0.1,"added":false}""")
                  (Ok { Rate = 0.1; Added = false })
                  "written at its default: read the same"

              Expect.equal
                  (Codec.parse "s" settings """{"rate":0.1,"added":1}""")
                  (Error
                      [ { Path = "s.added"
                          Problem = "expected true or false, got 1" } ])
                  "a wrong type still refused, naming the key"
          } ]
