/// JSON codecs written once per type: the same value describes how a record is encoded and
/// decoded, each key named once. Decoding reports every problem at once, each with the JSON path
/// of the offending field ("experiment.pipeline[3].epochs: expected an integer, got \"3\""), and
/// rejects keys a record does not have (naming the closest known key).
namespace Snn.Dsl.Json

open System
open System.Text.Json
open System.Text.Json.Nodes

/// One decoding problem: where (a JSON path) and what is wrong there.
type DecodeError =
    { Path: string
      Problem: string }

    member this.Message = $"%s{this.Path}: %s{this.Problem}"

/// Encoding and decoding of one type. `Expected` says what a JSON value must look like.
type Codec<'T> =
    { Encode: 'T -> JsonNode
      Decode: string -> JsonNode -> Result<'T, DecodeError list>
      Expected: string }

/// A record codec under construction: the keys so far, their encoders, and a decoder that fills
/// the record's constructor one field at a time.
type RecordCodec<'T, 'Ctor> =
    { Keys: string list
      Encoders: ('T -> (string * JsonNode) option) list
      Decoder: string -> JsonObject -> Result<'Ctor, DecodeError list> }

module Codec =

    /// The value of key `name` of an object (Some null for an explicit null), or None when absent.
    let tryGet (o: JsonObject) (name: string) : JsonNode option =
        let mutable v: JsonNode = null
        if o.TryGetPropertyValue(name, &v) then Some v else None

    /// A decoding failure at `path`.
    let fail path problem : Result<'a, DecodeError list> =
        Error [ { Path = path; Problem = problem } ]

    /// A short rendering of a JSON value for messages.
    let describe (n: JsonNode) =
        match n with
        | null -> "null"
        | :? JsonObject -> "an object"
        | :? JsonArray -> "an array"
        | v ->
            let s = v.ToJsonString()
            if s.Length > 40 then s.Substring(0, 40) + "..." else s

    let private expected path (what: string) (n: JsonNode) =
        fail path $"expected %s{what}, got %s{describe n}"

    /// Combines two results, keeping the errors of both.
    let combine (f: Result<'a -> 'b, DecodeError list>) (x: Result<'a, DecodeError list>) =
        match f, x with
        | Ok f, Ok x -> Ok(f x)
        | Error a, Error b -> Error(a @ b)
        | Error a, Ok _ -> Error a
        | Ok _, Error b -> Error b

    let private scalar<'T> (what: string) (encode: 'T -> JsonNode) (accept: JsonValue -> 'T option) : Codec<'T> =
        { Encode = encode
          Expected = what
          Decode =
            fun path n ->
                match n with
                | :? JsonValue as v ->
                    match accept v with
                    | Some x -> Ok x
                    | None -> expected path what n
                | _ -> expected path what n }

    let private number (v: JsonValue) =
        if v.GetValueKind() = JsonValueKind.Number then
            match v.TryGetValue<float>() with
            | true, x -> Some x
            | _ -> None
        else
            None

    /// A JSON integer (no fraction, within the range of int).
    let int: Codec<int> =
        scalar "an integer" (fun (x: int) -> JsonValue.Create x) (fun v ->
            match v.TryGetValue<int>() with
            | true, x when v.GetValueKind() = JsonValueKind.Number -> Some x
            | _ -> None)

    /// A finite JSON number (1e400 and other values that overflow a double are rejected).
    let float: Codec<float> =
        scalar "a finite number" (fun (x: float) -> JsonValue.Create x) (fun v ->
            number v |> Option.filter Double.IsFinite)

    let bool: Codec<bool> =
        scalar "true or false" (fun (x: bool) -> JsonValue.Create x) (fun v ->
            match v.GetValueKind() with
            | JsonValueKind.True -> Some true
            | JsonValueKind.False -> Some false
            | _ -> None)

    let string: Codec<string> =
        scalar "a string" (fun (x: string) -> JsonValue.Create x) (fun v ->
            match v.TryGetValue<string>() with
            | true, s -> Some s
            | _ -> None)

    /// null for None.
    let option (c: Codec<'T>) : Codec<'T option> =
        { Encode =
            function
            | Some x -> c.Encode x
            | None -> null
          Expected = $"%s{c.Expected} or null"
          Decode =
            fun path n ->
                if isNull n then
                    Ok None
                else
                    c.Decode path n |> Result.map Some }

    /// A JSON array of values of one codec; every element's errors are reported.
    let list (c: Codec<'T>) : Codec<'T list> =
        { Encode = fun xs -> JsonArray(xs |> List.map c.Encode |> List.toArray) :> JsonNode
          Expected = $"an array of %s{c.Expected}"
          Decode =
            fun path n ->
                match n with
                | :? JsonArray as a ->
                    a
                    |> Seq.mapi (fun i x -> c.Decode $"%s{path}[%d{i}]" x)
                    |> Seq.fold (fun acc x -> combine (acc |> Result.map (fun xs y -> xs @ [ y ])) x) (Ok [])
                | _ -> expected path $"an array of %s{c.Expected}" n }

    /// Converts a codec of 'A into one of 'B; `check` may reject decoded values with a message.
    let map (toB: 'A -> 'B) (toA: 'B -> 'A) (c: Codec<'A>) : Codec<'B> =
        { Encode = toA >> c.Encode
          Expected = c.Expected
          Decode = fun path n -> c.Decode path n |> Result.map toB }

    /// Like `map`, but decoding may fail with a message (e.g. a string that names no case).
    let mapResult (toB: 'A -> Result<'B, string>) (toA: 'B -> 'A) (c: Codec<'A>) : Codec<'B> =
        { Encode = toA >> c.Encode
          Expected = c.Expected
          Decode =
            fun path n ->
                c.Decode path n
                |> Result.bind (fun a ->
                    match toB a with
                    | Ok b -> Ok b
                    | Error m -> fail path m) }

    /// Levenshtein distance, for "did you mean" hints.
    let private distance (a: string) (b: string) =
        let d =
            Array2D.init (a.Length + 1) (b.Length + 1) (fun i j ->
                if i = 0 then j
                elif j = 0 then i
                else 0)

        for i in 1 .. a.Length do
            for j in 1 .. b.Length do
                let cost =
                    if Char.ToLowerInvariant a[i - 1] = Char.ToLowerInvariant b[j - 1] then
                        0
                    else
                        1

                d[i, j] <- min (min (d[i - 1, j] + 1) (d[i, j - 1] + 1)) (d[i - 1, j - 1] + cost)

        d[a.Length, b.Length]

    /// Whether the letters of `short` appear in order in `long` (ignoring case): "foldBN" in "foldBatchNorm".
    let private subsequence (short: string) (long: string) =
        let rec go i j =
            i = short.Length
            || (j < long.Length
                && (if Char.ToLowerInvariant short[i] = Char.ToLowerInvariant long[j] then
                        go (i + 1) (j + 1)
                    else
                        go i (j + 1)))

        short.Length >= 3 && go 0 0

    /// The known name closest to `name`, when it is close enough to be a likely misspelling or an
    /// abbreviation.
    let closest (known: string seq) (name: string) =
        let near =
            known
            |> Seq.map (fun k -> k, distance name k)
            |> Seq.filter (fun (k, d) -> d <= max 2 (k.Length / 3))
            |> Seq.sortBy snd
            |> Seq.tryHead
            |> Option.map fst

        near
        |> Option.orElse (known |> Seq.filter (subsequence name) |> Seq.sortBy _.Length |> Seq.tryHead)

    let private quoteAll (names: string seq) =
        names |> Seq.map (fun n -> $"\"%s{n}\"") |> String.concat ", "

    /// One of a fixed set of strings, each naming a case.
    let enum (cases: (string * 'T) list) : Codec<'T> =
        let names = cases |> List.map fst

        { Encode =
            fun x ->
                match cases |> List.tryFind (fun (_, c) -> c = x) with
                | Some(n, _) -> JsonValue.Create n
                | None -> invalidArg "x" $"%A{x} has no JSON name"
          Expected = $"one of %s{quoteAll names}"
          Decode =
            fun path n ->
                match string.Decode path n with
                | Ok s ->
                    match cases |> List.tryFind (fun (k, _) -> k = s) with
                    | Some(_, c) -> Ok c
                    | None ->
                        let hint =
                            closest names s
                            |> Option.map (fun k -> $" (did you mean \"%s{k}\"?)")
                            |> Option.defaultValue ""

                        fail path $"expected one of %s{quoteAll names}, got \"%s{s}\"%s{hint}"
                | Error _ -> expected path $"one of %s{quoteAll names}" n }

    /// Starts a record codec with the record's constructor (a curried function of its fields).
    let record<'T, 'Ctor> (ctor: 'Ctor) : RecordCodec<'T, 'Ctor> =
        { Keys = []
          Encoders = []
          Decoder = fun _ _ -> Ok ctor }

    let private addFieldWritten
        name
        (get: 'T -> 'F)
        (c: Codec<'F>)
        (write: 'F -> bool)
        (missing: string -> Result<'F, DecodeError list>)
        r
        =
        { Keys = r.Keys @ [ name ]
          Encoders =
            r.Encoders
            @ [ fun x ->
                    let v = get x
                    if write v then Some(name, c.Encode v) else None ]
          Decoder =
            fun path (o: JsonObject) ->
                let p = $"%s{path}.%s{name}"

                let v =
                    match tryGet o name with
                    | Some n -> c.Decode p n
                    | None -> missing p

                combine (r.Decoder path o) v }

    let private addField name get c missing r =
        addFieldWritten name get c (fun _ -> true) missing r

    /// A required field.
    let field name (get: 'T -> 'F) (c: Codec<'F>) (r: RecordCodec<'T, 'F -> 'R>) : RecordCodec<'T, 'R> =
        addField name get c (fun p -> fail p $"missing: expected %s{c.Expected}") r

    /// A field that takes `value` when the key is absent (it is always written).
    let fieldOr name (get: 'T -> 'F) (c: Codec<'F>) (value: 'F) (r: RecordCodec<'T, 'F -> 'R>) : RecordCodec<'T, 'R> =
        addField name get c (fun _ -> Ok value) r

    /// A field added after runs were recorded: it takes `value` when the key is absent and is written only
    /// when it differs from `value`, so the JSON of a step that leaves it at `value`, and with it the identity
    /// of a run recorded before the field existed, stay as they were.
    let fieldAdded
        name
        (get: 'T -> 'F)
        (c: Codec<'F>)
        (value: 'F)
        (r: RecordCodec<'T, 'F -> 'R>)
        : RecordCodec<'T, 'R> =
        addFieldWritten name get c (fun v -> v <> value) (fun _ -> Ok value) r

    let private unknownKeys path (allowed: string list) (o: JsonObject) =
        [ for KeyValue(k, _) in o do
              if not (List.contains k allowed) then
                  let hint =
                      closest allowed k
                      |> Option.map (fun c -> $" (did you mean \"%s{c}\"?)")
                      |> Option.defaultValue ""

                  { Path = $"%s{path}.%s{k}"
                    Problem = $"unknown key%s{hint}; expected one of %s{quoteAll allowed}" } ]

    let private encodeObject (fields: (string * JsonNode) seq) =
        let o = JsonObject()

        for k, v in fields do
            o[k] <- v

        o :> JsonNode

    /// Decodes the fields of an object, also rejecting keys outside `allowed`.
    let decodeFields path (allowed: string list) (r: RecordCodec<'T, 'T>) (o: JsonObject) =
        match unknownKeys path allowed o, r.Decoder path o with
        | [], d -> d
        | u, Ok _ -> Error u
        | u, Error e -> Error(u @ e)

    /// The finished record codec: a JSON object with exactly the declared keys.
    let build (r: RecordCodec<'T, 'T>) : Codec<'T> =
        { Encode = fun x -> r.Encoders |> Seq.choose (fun e -> e x) |> encodeObject
          Expected = "an object"
          Decode =
            fun path n ->
                match n with
                | :? JsonObject as o -> decodeFields path r.Keys r o
                | _ -> expected path "an object" n }

    /// The fields of a record as (key, value) pairs (to embed in a tagged object).
    let encodeFields (r: RecordCodec<'T, 'T>) (x: 'T) =
        r.Encoders |> List.choose (fun e -> e x)

    /// An object with no fields.
    let empty (value: 'T) : Codec<'T> = build (record value)

    /// Decodes JSON text with a codec; a syntax error is one error at the root path.
    let parse (root: string) (c: Codec<'T>) (json: string) : Result<'T, DecodeError list> =
        let node =
            try
                Ok(JsonNode.Parse json)
            with :? JsonException as e ->
                fail root $"not valid JSON: %s{e.Message}"

        node |> Result.bind (c.Decode root)

    /// Reads and decodes the JSON file at `path`; its errors, each naming the file and the path
    /// in it, are raised as one InvalidDataException.
    let readFile (path: string) (c: Codec<'T>) : 'T =
        match parse path c (System.IO.File.ReadAllText path) with
        | Ok x -> x
        | Error es -> raise (System.IO.InvalidDataException(es |> List.map _.Message |> String.concat "; "))

    /// Indented JSON text.
    let toJsonText (c: Codec<'T>) (x: 'T) =
        (c.Encode x).ToJsonString(JsonSerializerOptions(WriteIndented = true))
