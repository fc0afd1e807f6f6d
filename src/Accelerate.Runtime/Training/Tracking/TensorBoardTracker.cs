using System.Globalization;
using System.Text;

namespace Accelerate.Tracking;

/// <summary>
/// Writes TensorBoard event files in <see cref="LogDirectory"/>: scalars as <c>add_scalar</c> does,
/// and the hyper-parameters of <see cref="Accelerator.InitTrackers"/> as the hparams plugin's
/// session records (start with the values, end with the status), so that TensorBoard's HPARAMS
/// tab lists the run with its hyper-parameters next to its last metric values, as HF's
/// <c>TensorBoardTracker</c> (<c>add_hparams</c>) does.
/// </summary>
public sealed class TensorBoardTracker : ITracker
{
    private TensorBoardEventFile? _events;

    /// <summary>A tracker writing under <paramref name="logDirectory"/> (created on first write).</summary>
    public TensorBoardTracker(string logDirectory) => LogDirectory = logDirectory;

    /// <inheritdoc/>
    public string Name => "tensorboard";

    /// <summary>The run's folder: point <c>tensorboard --logdir</c> at it or at its parent.</summary>
    public string LogDirectory { get; }

    /// <summary>The event file written so far, or null before the first record.</summary>
    public string? EventFile => _events?.Path;

    /// <summary>
    /// Writes the hparams plugin's <c>session_start_info</c>: numbers (as float64), booleans and
    /// strings keep their type; any other value is recorded as its string, as HF does.
    /// </summary>
    public void StoreInitConfiguration(IReadOnlyDictionary<string, object?> config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _sessionStarted = true;
        Events.WritePluginRecord("_hparams_/session_start_info", data => data.Message(3, start => // HParamsPluginData.session_start_info
        {
            foreach (var (name, raw) in config)
                start.Message(1, entry => entry                                                     // SessionStartInfo.hparams (map entry)
                    .Bytes(1, Encoding.UTF8.GetBytes(name))
                    .Message(2, value => _ = Plain(raw) switch                                       // google.protobuf.Value
                    {
                        double number => value.Fixed64(2, number),
                        bool flag => value.Varint(4, flag ? 1UL : 0UL),
                        var text => value.Bytes(3, Encoding.UTF8.GetBytes((string)text!)),
                    }));
            start.Fixed64(5, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);            // start_time_secs
        }));
    }

    /// <inheritdoc/>
    public void Log(IReadOnlyDictionary<string, double> metrics, long step) => Events.WriteScalars(metrics, step);

    /// <summary>Writes the hparams session's end (status success) when hyper-parameters were stored, and closes the file.</summary>
    public void Finish()
    {
        if (_events is null) return;
        if (_sessionStarted)
            _events.WritePluginRecord("_hparams_/session_end_info", data => data.Message(4, end => end // HParamsPluginData.session_end_info
                .Varint(1, 1)                                                                           // status SUCCESS
                .Fixed64(2, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0)));                 // end_time_secs
        _events.Dispose();
        _events = null;
    }

    private bool _sessionStarted;

    private TensorBoardEventFile Events
    {
        get
        {
            _events ??= new TensorBoardEventFile(LogDirectory);
            return _events;
        }
    }

    /// <summary>A hyper-parameter as a tracker records it: a double, a bool, or a string.</summary>
    internal static object Plain(object? value) => value switch
    {
        bool flag => flag,
        string text => text,
        null => "None",
        Half half => (double)half,
        sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal
            => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
