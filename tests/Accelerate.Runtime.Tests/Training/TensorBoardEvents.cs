using System.Buffers.Binary;
using System.Text;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// Reads the scalars in a TensorBoard event file, independently of the writer: TFRecord framing
/// (length, masked CRC, data, masked CRC) around <c>Event</c> protocol buffers whose
/// <c>summary.value</c> entries carry a tag and a <c>simple_value</c>, or a tag and the hparams
/// plugin's metadata (<c>HParamsPluginData</c>: session start with the hyper-parameters, session end).
/// </summary>
internal static class TensorBoardEvents
{
    public sealed record Scalar(string Tag, long Step, float Value);

    /// <summary>The hparams plugin's records: the session's hyper-parameters (double, bool or string) and its end status (null without an end record).</summary>
    public sealed record HParams(Dictionary<string, object> Values, long? EndStatus);

    public static List<Scalar> ReadScalars(string path) => Read(path).Scalars;

    public static HParams ReadHParams(string path)
    {
        var plugins = Read(path).Plugins;
        var start = plugins.Where(p => p.Tag == "_hparams_/session_start_info").ToList();
        Assert.HasCount(1, start, $"{path}: one session_start_info record");
        var values = new Dictionary<string, object>();
        foreach (var (field, startInfo, _) in Fields(start[0].Content))
            if (field == 3)                                                                  // HParamsPluginData.session_start_info
                foreach (var (entryField, entry, _) in Fields(startInfo))
                    if (entryField == 1)                                                     // SessionStartInfo.hparams
                    {
                        var parts = Fields(entry);
                        var name = Encoding.UTF8.GetString(parts.Single(p => p.Field == 1).Payload);
                        var (kind, payload, varint) = Fields(parts.Single(p => p.Field == 2).Payload).Single();
                        values[name] = kind switch                                           // google.protobuf.Value
                        {
                            2 => BinaryPrimitives.ReadDoubleLittleEndian(payload),
                            3 => Encoding.UTF8.GetString(payload),
                            4 => varint != 0,
                            _ => throw new AssertFailedException($"hyper-parameter '{name}' has value kind {kind}"),
                        };
                    }
        var end = plugins.Where(p => p.Tag == "_hparams_/session_end_info")
            .SelectMany(p => Fields(p.Content)).Where(f => f.Field == 4)                    // session_end_info
            .SelectMany(f => Fields(f.Payload)).Where(f => f.Field == 1).Select(f => (long?)f.Varint).SingleOrDefault(); // status
        return new HParams(values, end);
    }

    private static (List<Scalar> Scalars, List<(string Tag, byte[] Content)> Plugins) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var scalars = new List<Scalar>();
        var plugins = new List<(string Tag, byte[] Content)>();
        var records = 0;
        for (var at = 0; at < bytes.Length;)
        {
            Assert.IsTrue(at + 12 <= bytes.Length, $"{path}: a record header is cut at byte {at}");
            var length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at)));
            Assert.IsTrue(at + 12 + length + 4 <= bytes.Length, $"{path}: record {records} is cut");
            ReadEvent(bytes.AsSpan(at + 12, length), scalars, plugins);
            at += 12 + length + 4;
            records++;
        }
        Assert.IsTrue(records > 0, $"{path} holds no record");
        return (scalars, plugins);
    }

    private static void ReadEvent(ReadOnlySpan<byte> message, List<Scalar> scalars, List<(string Tag, byte[] Content)> plugins)
    {
        long step = 0;
        var values = new List<(string Tag, float Value)>();
        foreach (var (field, payload, varint) in Fields(message))
        {
            if (field == 2) step = (long)varint;                       // Event.step
            else if (field == 5)                                        // Event.summary
                foreach (var (summaryField, value, _) in Fields(payload))
                    if (summaryField == 1)                              // Summary.value
                    {
                        if (PluginContent(value) is { } plugin) plugins.Add(plugin);
                        else values.Add(ReadValue(value));
                    }
        }
        scalars.AddRange(values.Select(v => new Scalar(v.Tag, step, v.Value)));
    }

    private static (string Tag, float Value) ReadValue(ReadOnlySpan<byte> message)
    {
        string? tag = null;
        float? value = null;
        foreach (var (field, payload, _) in Fields(message))
        {
            if (field == 1) tag = Encoding.UTF8.GetString(payload);                      // Value.tag
            else if (field == 2) value = BinaryPrimitives.ReadSingleLittleEndian(payload); // Value.simple_value
        }
        Assert.IsNotNull(tag, "a summary value without a tag");
        Assert.IsNotNull(value, $"summary value '{tag}' is not a simple scalar");
        return (tag, value.Value);
    }

    /// <summary>A value whose metadata names the hparams plugin: its tag and <c>PluginData.content</c>; null for any other value.</summary>
    private static (string Tag, byte[] Content)? PluginContent(ReadOnlySpan<byte> message)
    {
        var fields = Fields(message);
        var metadata = fields.Where(f => f.Field == 9).Select(f => f.Payload).FirstOrDefault();   // Value.metadata
        if (metadata is null) return null;
        var plugin = Fields(metadata).Single(f => f.Field == 1).Payload;                          // SummaryMetadata.plugin_data
        var pluginFields = Fields(plugin);
        Assert.AreEqual("hparams", Encoding.UTF8.GetString(pluginFields.Single(f => f.Field == 1).Payload), "plugin_name");
        return (Encoding.UTF8.GetString(fields.Single(f => f.Field == 1).Payload), pluginFields.Single(f => f.Field == 2).Payload);
    }

    /// <summary>The fields of a protocol buffer message: number, bytes (length-delimited and fixed) and varint value.</summary>
    private static List<(int Field, byte[] Payload, ulong Varint)> Fields(ReadOnlySpan<byte> message)
    {
        var fields = new List<(int, byte[], ulong)>();
        var at = 0;
        while (at < message.Length)
        {
            var key = Varint(message, ref at);
            var field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0: fields.Add((field, [], Varint(message, ref at))); break;
                case 1: fields.Add((field, message.Slice(at, 8).ToArray(), 0)); at += 8; break;
                case 2:
                    var length = (int)Varint(message, ref at);
                    fields.Add((field, message.Slice(at, length).ToArray(), 0));
                    at += length;
                    break;
                case 5: fields.Add((field, message.Slice(at, 4).ToArray(), 0)); at += 4; break;
                default: Assert.Fail($"unexpected protocol buffer wire type {key & 7}"); break;
            }
        }
        return fields;
    }

    private static ulong Varint(ReadOnlySpan<byte> message, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
    }
}
