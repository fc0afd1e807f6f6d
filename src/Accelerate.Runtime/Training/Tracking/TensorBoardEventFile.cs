using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Accelerate.Tracking;

/// <summary>
/// One TensorBoard event file: TFRecord records (length, masked CRC-32C, data, masked CRC-32C)
/// holding <c>Event</c> protocol buffers. Written by hand because TorchSharp's writer has no
/// hyper-parameter records; each record is flushed so TensorBoard sees it while the run goes on.
/// </summary>
internal sealed class TensorBoardEventFile : IDisposable
{
    private static int _filesOpened;
    private readonly FileStream _file;

    public TensorBoardEventFile(string directory)
    {
        Directory.CreateDirectory(directory);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // The trailing counter keeps two writers of one process within one second apart, as PyTorch's global uid does.
        var count = Interlocked.Increment(ref _filesOpened) - 1;
        Path = System.IO.Path.Combine(directory, $"events.out.tfevents.{now}.{System.Environment.MachineName}.{System.Environment.ProcessId}.{count}");
        _file = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        WriteEvent(0, e => e.Bytes(3, Encoding.UTF8.GetBytes("brain.Event:2"))); // Event.file_version
    }

    public string Path { get; }

    /// <summary>Scalars as <c>Summary.Value</c> entries with a <c>simple_value</c>, as <c>add_scalar</c> writes them.</summary>
    public void WriteScalars(IEnumerable<KeyValuePair<string, double>> values, long step) =>
        WriteEvent(step, e => e.Message(5, summary =>                           // Event.summary
        {
            foreach (var (tag, value) in values)
                summary.Message(1, v => v.Bytes(1, Encoding.UTF8.GetBytes(tag)).Fixed32(2, (float)value)); // Value.tag, Value.simple_value
        }));

    /// <summary>
    /// A record of the hparams plugin: a summary value tagged <paramref name="tag"/> whose metadata
    /// names the plugin <c>hparams</c> and carries <c>HParamsPluginData</c> (version 0) bytes.
    /// </summary>
    public void WritePluginRecord(string tag, Action<ProtoWriter> pluginData) =>
        WriteEvent(0, e => e.Message(5, summary => summary.Message(1, value => value
            .Bytes(1, Encoding.UTF8.GetBytes(tag))                              // Value.tag
            .Message(9, metadata => metadata.Message(1, plugin => plugin        // Value.metadata.plugin_data
                .Bytes(1, "hparams"u8.ToArray())                                // PluginData.plugin_name
                .Message(2, pluginData))))));                                    // PluginData.content

    private void WriteEvent(long step, Action<ProtoWriter> body)
    {
        var writer = new ProtoWriter().Fixed64(1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0); // Event.wall_time
        if (step != 0) writer.Varint(2, (ulong)step);                                                        // Event.step
        body(writer);
        var data = writer.ToArray();
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc(data));
        _file.Write(header);
        _file.Write(data);
        _file.Write(footer);
        _file.Flush();
    }

    private static uint MaskedCrc(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes) crc = BitOperations.Crc32C(crc, b);
        crc = ~crc;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    public void Dispose() => _file.Dispose();
}
