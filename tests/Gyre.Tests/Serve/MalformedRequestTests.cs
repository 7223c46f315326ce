using System.Text;
using System.Text.Json;
using Xunit;

namespace Gyre.Tests.Serve;

/// <summary>
/// A catalogue of malformed requests: each is answered 4xx with {"error": one line naming what was wrong}, never a
/// 5xx, and the server keeps answering afterwards.
/// </summary>
[Collection("serve")]
public class MalformedRequestTests(ServeFixture f)
{
    private const string X1 = "{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": [0.5]}";
    private const string Seq = "\"parameters\": {\"sequence_id\": 5, \"sequence_start\": true}";

    public static TheoryData<string, string, string, int, string> Catalogue() => new()
    {
        // name, model, body, status, fragment of the message
        { "not JSON", "cs", "{\"inputs\": [", 400, "not valid JSON" },
        { "NaN literal", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": [NaN]}], " + Seq + "}", 400, "not valid JSON" },
        { "NaN as a string", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": [\"NaN\"]}], " + Seq + "}", 400, "data[0] is \"NaN\", not a number" },
        { "overflowing FP32", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": [1e39]}], " + Seq + "}", 400, "not a finite FP32 value" },
        { "empty body", "cs", "", 400, "body is empty" },
        { "an array body", "cs", "[1, 2]", 400, "must be a JSON object" },
        { "no inputs", "cs", "{" + Seq + "}", 400, "no 'inputs'" },
        { "empty inputs", "cs", "{\"inputs\": [], " + Seq + "}", 400, "non-empty array" },
        { "unknown model", "nope", "{\"inputs\": [" + X1 + "]}", 404, "no model 'nope'" },
        { "unknown input", "cs", "{\"inputs\": [{\"name\": \"y\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": [0.5]}], " + Seq + "}", 400, "no input 'y'" },
        { "wrong datatype", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"INT32\", \"data\": [1]}], " + Seq + "}", 400, "must be FP32, got datatype INT32" },
        { "wrong width", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}], " + Seq + "}", 400, "must have shape [-1, 1], got [1, 3]" },
        { "wrong rank", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}], " + Seq + "}", 400, "must have shape [-1, 1], got [1]" },
        { "data shorter than the shape", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [3, 1], \"datatype\": \"FP32\", \"data\": [1, 2]}], " + Seq + "}", 400, "has 2 data elements, its shape [3, 1] needs 3" },
        { "data longer than the shape", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": [1, 2]}], " + Seq + "}", 400, "has 2 data elements" },
        { "negative shape", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 1], \"datatype\": \"FP32\", \"data\": [1]}], " + Seq + "}", 400, "shape[0] must be a non-negative integer" },
        { "zero rows", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [0, 1], \"datatype\": \"FP32\", \"data\": []}], " + Seq + "}", 400, "has no rows" },
        { "input given twice", "cs", "{\"inputs\": [" + X1 + ", " + X1 + "], " + Seq + "}", 400, "given twice" },
        { "data not an array", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": 0.5}], " + Seq + "}", 400, "'data' must be an array" },
        { "missing sequence_id on a stateful model", "cs", "{\"inputs\": [" + X1 + "]}", 400, "give parameters.sequence_id" },
        { "sequence_start without an id", "cs", "{\"inputs\": [" + X1 + "], \"parameters\": {\"sequence_start\": true}}", 400, "need a parameters.sequence_id" },
        { "sequence_id of a wrong type", "cs", "{\"inputs\": [" + X1 + "], \"parameters\": {\"sequence_id\": [1]}}", 400, "sequence_id must be a positive integer" },
        { "sequence_start not a boolean", "cs", "{\"inputs\": [" + X1 + "], \"parameters\": {\"sequence_id\": 3, \"sequence_start\": \"yes\"}}", 400, "sequence_start must be true or false" },
        { "a sequence never started", "cs", "{\"inputs\": [" + X1 + "], \"parameters\": {\"sequence_id\": 123456}}", 400, "is not live" },
        { "unknown output", "cs", "{\"inputs\": [" + X1 + "], \"outputs\": [{\"name\": \"logits\"}], " + Seq + "}", 400, "no output 'logits'" },
        { "missing time on a calendar model", "fc", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}], " + Seq + "}", 400, "needs input 'time'" },
        { "times out of order", "fc", "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}, {\"name\": \"time\", \"shape\": [2], \"datatype\": \"INT64\", \"data\": [100, 50]}], " + Seq + "}", 400, "does not come after" },
        { "a window too short without a sequence", "fc", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}, {\"name\": \"time\", \"shape\": [1], \"datatype\": \"INT64\", \"data\": [0]}]}", 400, "needs at least 14 rows" },
        { "missing future covariates", "ff", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}], " + Seq + "}", 400, "needs input 'future' (FP32 [5, 1])" },
        { "future covariates of a wrong shape", "ff", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}, {\"name\": \"future\", \"shape\": [4, 1], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}], " + Seq + "}", 400, "input 'future' must have shape [5, 1], got [4, 1]" },
        { "non-finite future covariate", "ff", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}, {\"name\": \"future\", \"shape\": [5, 1], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4, 1e39]}], " + Seq + "}", 400, "input 'future': data[4] = 1e39 is not a finite FP32 value" },
        { "id not a string", "cs", "{\"id\": 7, \"inputs\": [" + X1 + "], " + Seq + "}", 400, "'id' must be a string" },
        { "nesting too deep", "cs", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP32\", \"data\": " + new string('[', 40) + new string(']', 40) + "}], " + Seq + "}", 400, "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(Catalogue))]
    public async Task Is_refused_with_a_message(string what, string model, string body, int status, string fragment)
    {
        using var response = await f.Http.PostAsync($"v2/models/{model}/infer", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{what}: HTTP {(int)response.StatusCode} {text}");
        using var doc = JsonDocument.Parse(text);
        string error = doc.RootElement.GetProperty("error").GetString()!;
        Assert.Contains(fragment, error);
        Assert.DoesNotContain('\n', error);
        // The server still answers.
        using var live = await f.Http.GetAsync("v2/health/live");
        Assert.True(live.IsSuccessStatusCode);
    }

    [Fact]
    public async Task A_get_on_the_infer_endpoint_and_an_unknown_path_are_4xx()
    {
        using var get = await f.Http.GetAsync("v2/models/cs/infer");
        Assert.InRange((int)get.StatusCode, 400, 499);
        using var none = await f.Http.GetAsync("v2/models/nope");
        Assert.Equal(404, (int)none.StatusCode);
        Assert.Contains("no model 'nope'", await none.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_is_a_400_naming_the_byte()
    {
        // Found by fuzzing: JsonDocument accepts such bytes inside a string and fails only when the string is read.
        byte[] body = [.. Encoding.UTF8.GetBytes("{\"id\": \"se"), 0xC4, .. Encoding.UTF8.GetBytes("\", \"inputs\": [" + X1 + "], " + Seq + "}")];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await f.Http.PostAsync("v2/models/cs/infer", content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(400 == (int)response.StatusCode, $"HTTP {(int)response.StatusCode} {text}");
        Assert.Contains("not valid UTF-8 (byte 11)", JsonDocument.Parse(text).RootElement.GetProperty("error").GetString());
    }
}
