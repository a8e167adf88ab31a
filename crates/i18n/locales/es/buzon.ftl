# Catálogo de mensajes de Buzón: español.
#
# Mismas claves y mismos argumentos que en/buzon.ftl (lo comprueba
# `cargo test -p buzon-i18n`). Se habla de «tú», con palabras que entiende quien
# configura su correo sin ser informático.

## Respuestas del servidor POP3 (el texto tras +OK / -ERR y el [CÓDIGO]).

pop3-greeting = Buzón preparado.
pop3-capa = Sigue la lista de capacidades
pop3-line-runaway = Línea demasiado larga sin CRLF; se cierra la conexión.
pop3-sasl-too-long = Respuesta de autenticación demasiado larga.
pop3-line-too-long = Línea de orden demasiado larga (máximo 255 octetos, RFC 2449).
pop3-bare-lf = Las líneas deben terminar en CRLF.
pop3-too-many-bad = Demasiadas órdenes erróneas; se cierra la conexión.
pop3-unknown-command = Orden desconocida.
pop3-empty-command = Orden vacía
pop3-bad-arguments = { $command }: { $reason }
pop3-bad-msgnum = { $command }: número de mensaje no válido
pop3-not-utf8 = { $command }: el argumento no está en UTF-8
pop3-arg-password-missing = falta la contraseña
pop3-arg-user-missing = falta el nombre de usuario
pop3-arg-too-many = sobran argumentos
pop3-arg-bad-digest = el resumen debe tener 32 dígitos hexadecimales
pop3-arg-apop-usage = se esperaba: APOP nombre resumen
pop3-arg-bad-line-count = el número de líneas debe ser un número no negativo
pop3-arg-top-usage = se esperaba: TOP mensaje líneas
pop3-arg-control-in-user = carácter de control en el nombre de usuario
pop3-arg-bad-mechanism = nombre de mecanismo no válido
pop3-arg-no-arguments = no admite argumentos
pop3-arg-msgnum-missing = falta el número de mensaje
pop3-arg-bad-lang-range = rango de idioma no válido
pop3-not-allowed-now = Orden no permitida ahora.
pop3-logout = Cerrando la sesión.
pop3-logout-deleted = Cerrando la sesión; { $count ->
        [one] se ha borrado { $count } mensaje.
       *[other] se han borrado { $count } mensajes.
    }
pop3-update-failed = Algunos mensajes marcados no se han podido borrar: { $reason }
pop3-plaintext-disallowed = No se admite la autenticación en texto claro en conexiones no seguras (SSL/TLS); usa TLS (puerto 995) o STLS.
pop3-apop-needs-tls = APOP solo se acepta con TLS (puerto 995 o tras STLS): un resumen enviado sin cifrar se puede descifrar sin conexión.
pop3-apop-unavailable = APOP no está disponible en este servidor.
pop3-no-username = No se ha indicado el usuario.
pop3-tls-already = TLS ya está activo.
pop3-stls-unavailable = STLS no está disponible: no hay ningún certificado TLS configurado.
pop3-stls-begin = Empieza ya la negociación TLS.
pop3-utf8-enabled = UTF8 activado
pop3-login-first = { $command } no se permite antes de iniciar sesión: autentícate primero (USER/PASS, APOP o AUTH).
pop3-unsupported-mechanism = Mecanismo de autenticación no admitido.
pop3-auth-failed = Error de autenticación.
pop3-login-bad-user = Nombre de usuario no válido en el intercambio LOGIN.
pop3-auth-aborted = El cliente ha cancelado la autenticación.
pop3-logged-in = Sesión iniciada.
pop3-no-such-message = No existe el mensaje { $msg }: en el buzón { $count ->
        [one] hay { $count } mensaje.
       *[other] hay { $count } mensajes.
    }
pop3-message-deleted = El mensaje { $msg } está borrado.
pop3-list = { $count ->
        [one] { $count } mensaje
       *[other] { $count } mensajes
    } ({ $octets } octetos)
pop3-retr = { $octets } octetos
pop3-dele = Marcado para borrar.
pop3-rset = el buzón tiene { $count ->
        [one] { $count } mensaje
       *[other] { $count } mensajes
    } ({ $octets } octetos)
pop3-already-logged-in = Ya has iniciado sesión.
pop3-stls-after-login = STLS solo se permite antes de iniciar sesión (RFC 2595).
pop3-utf8-after-login = UTF8 debe enviarse antes de iniciar sesión (RFC 6856).
pop3-message-unavailable = El mensaje no está disponible ahora; inténtalo más tarde.
pop3-idle = Desconectado por inactividad.
pop3-shutdown = El servidor se está apagando; no se ha borrado ningún mensaje.
pop3-taken-over = Otra sesión más reciente ha tomado el buzón; no se ha borrado ningún mensaje.
pop3-auth-timeout = No has iniciado sesión en el tiempo permitido; vuelve a conectar e inicia sesión.
pop3-lang-list = Sigue la lista de idiomas:
pop3-lang-changed = Idioma cambiado
pop3-lang-unsupported = Idioma no admitido: { $range }; LANG sin argumento muestra los idiomas.
pop3-too-many-failed-logins = Demasiados intentos fallidos desde tu dirección o para este usuario; inténtalo más tarde.
pop3-auth-unavailable = La autenticación no está disponible en este momento; inténtalo más tarde.
pop3-too-many-sessions = Demasiadas sesiones para este usuario; cierra los otros programas de correo.
pop3-login-delay = Entre dos inicios de sesión deben pasar { $delay } segundos; inténtalo dentro de { $wait } segundos.
pop3-mailbox-locked = El buzón está bloqueado por otra sesión POP3; cierra el otro programa de correo o espera.
pop3-mailbox-unavailable = No se puede abrir el buzón; el administrador ya sabe por qué.
pop3-index-problem = Problema con el índice del buzón; inténtalo más tarde.
pop3-too-many-connections = Demasiadas conexiones con este servidor; inténtalo más tarde.
pop3-too-many-connections-ip = Demasiadas conexiones desde tu dirección; cierra otras sesiones y vuelve a intentarlo.
pop3-store-unavailable = el almacén de correo no está disponible

## SASL (RFC 5034).

sasl-bad-base64 = Datos base64 no válidos
sasl-plain-shape = Mensaje PLAIN no válido: se esperaba authzid NUL authcid NUL contraseña
sasl-plain-nul-password = Mensaje PLAIN no válido: NUL en la contraseña
sasl-plain-user-not-utf8 = Mensaje PLAIN no válido: el nombre de usuario no está en UTF-8
sasl-plain-authzid-not-utf8 = Mensaje PLAIN no válido: el authzid no está en UTF-8
sasl-plain-empty-user = Mensaje PLAIN no válido: nombre de usuario vacío
sasl-scram-malformed = Mensaje SCRAM no válido
sasl-bearer-malformed = Mensaje OAUTHBEARER o XOAUTH2 no válido

## Errores del cliente de recogida (buzon fetch, check, setup): la causa, « — » y la
## solución (`buzon check` las separa ahí).

client-unknown-host = no se encuentra la dirección de { $host }: { $reason } — revisa que el nombre del servidor esté bien escrito (cópialo de las instrucciones de tu proveedor); si lo está, puede que este equipo no llegue al servidor DNS (¿hay conexión a Internet?)
client-refused = no se puede conectar con { $addr }: conexión rechazada — el puerto no es el correcto o el servidor está apagado; POP3 usa el puerto 995 (con TLS) y el 110 (con STLS)
client-connect-timeout = no se puede conectar con { $addr }: no hay respuesta en { $secs } s — lo más probable es que un cortafuegos o un antivirus esté bloqueando el puerto; prueba el otro de los dos puertos, 995 (TLS) o 110 (STLS)
client-connect = no se puede conectar con { $addr }: { $reason }
client-no-greeting = { $addr } aceptó la conexión pero no envió ningún saludo en { $secs } s — { $hint }
client-hint-expects-tls = seguramente el puerto espera TLS desde el primer byte: usa security = "tls" (puerto 995)
client-hint-is-pop3s = este puerto espera TLS desde el primer byte (POP3S): usa security = "tls"
client-hint-not-pop3 = puede que el servidor esté sobrecargado o que este no sea un puerto POP3
client-not-pop3 = { $addr } no habla POP3: { $got } — revisa el puerto (POP3 usa el 995 con TLS y el 110 con STLS)
client-tls = falló la conexión cifrada (TLS) con { $host }: { $detail } — { $fix }
client-stls-not-offered = { $host } no ofrece STLS, así que la contraseña viajaría sin cifrar — usa security = "tls" en el puerto 995, o pide al proveedor que active TLS (Buzón nunca baja la seguridad sin avisar)
client-plaintext-not-allowed = no se inicia sesión como { $user } en { $host } por una conexión sin cifrar: la contraseña (o, con APOP y SCRAM, un valor del que se puede adivinar) viajaría legible para cualquiera en el camino — usa security = "tls" o "starttls"; pon allow_plaintext = true solo en una red local de confianza
client-plaintext-refused = { $host } no admite contraseñas sin cifrar en una conexión no segura ({ $text }) — usa security = "tls" (puerto 995) o "starttls" (puerto 110)
client-auth = { $host } rechazó el inicio de sesión de { $user }: { $text } — revisa la contraseña{ $hint }
client-auth-hint-full-address = {" "}y el nombre de usuario: muchos proveedores piden la dirección de correo completa como usuario
client-auth-hint-local-part = {" "}y el nombre de usuario: algunos proveedores piden solo la parte anterior a la @ (user = "{ $local }")
client-auth-hint-local-works = {" "}— el servidor acepta esta contraseña con el usuario "{ $local }" (sin @dominio): pon user = "{ $local }"
client-auth-hint-local-rejected = {" "}y el nombre de usuario (también se rechazó "{ $local }" sin el dominio, así que lo más probable es que falle la contraseña)
client-auth-unsupported = { $host } no admite el método de acceso { $mechanism } — usa auth = "auto" para que Buzón elija uno que el servidor ofrezca
client-in-use = { $host } dice que otra sesión está usando el buzón ([IN-USE] { $text }) — seguramente otro programa de correo está descargando ahora mismo; Buzón no reintenta en bucle: vuelve a ejecutarlo más tarde
client-login-delay = { $host } pide esperar antes de volver a iniciar sesión ([LOGIN-DELAY] { $text }){ $policy } — descarga el correo con menos frecuencia (mira --every)
client-sys-temp = { $host } tiene un problema temporal ([SYS/TEMP] { $text }) — inténtalo más tarde
client-server = { $host } respondió a { $command } con un error: { $text }
client-protocol = { $host } envió una respuesta que Buzón no puede usar tras { $command }: { $detail }
client-closed = { $host } cerró la conexión { $during }
client-read-timeout = { $host } no respondió a { $command } en { $secs } s — puede que la conexión se haya quedado colgada; vuelve a ejecutarlo
client-keep-needs-uidl = { $host } no admite UIDL, así que Buzón no puede distinguir los mensajes nuevos de los ya descargados — `keep` y `delete_after_days` necesitan UIDL; usa con este servidor la política por defecto (borrar tras descargar)
client-delivery = no se puede guardar un mensaje en { $path }: { $reason }
client-mda = el programa de entrega { $program } falló: { $reason }
client-ledger = el registro de descargas { $path } no se puede usar: { $reason }

## Problemas de TLS (detalle y solución).

tls-timeout = no hay respuesta TLS en { $secs } s
tls-timeout-fix = seguramente el puerto habla POP3 sin cifrar: usa security = "starttls" (puerto 110) o revisa el puerto
tls-pin-fix = si confías en este servidor, fija su certificado: fingerprint = "{ $fingerprint }" en la cuenta (o --fingerprint), o indica su autoridad con ca_file
tls-ca-fix = indica el certificado de la autoridad del servidor con ca_file, o fija la huella del certificado
tls-expired = el certificado del servidor ha caducado
tls-expired-fix = el administrador del servidor tiene que renovarlo; comprueba también que la hora de este equipo sea correcta
tls-not-yet-valid = el certificado del servidor todavía no es válido
tls-not-yet-valid-fix = comprueba que la fecha y la hora de este equipo sean correctas
tls-wrong-name = el certificado del servidor es de otro nombre, no de { $host }
tls-wrong-name-fix = usa el nombre de servidor para el que se emitió el certificado (el que indica tu proveedor)
tls-wrong-name-for = el certificado del servidor es de { $names }, no de { $host }
tls-wrong-name-for-fix = usa el nombre de servidor para el que se emitió el certificado ({ $name })
tls-unknown-issuer = el certificado del servidor es autofirmado o lo firmó una autoridad desconocida
tls-pin-mismatch = el certificado del servidor no coincide con la huella fijada
tls-pin-mismatch-fix = si el certificado del servidor se cambió a propósito, fija la huella nueva; si no, alguien podría estar interceptando la conexión
tls-not-acceptable = el certificado del servidor no es aceptable: { $words }
tls-not-tls = el servidor no respondió con TLS (sus primeros bytes no son un registro TLS)
tls-not-tls-fix = este puerto habla POP3 sin cifrar: usa security = "starttls" (puerto 110), o el puerto 995 para TLS
tls-incompatible-fix = la configuración TLS del servidor no es compatible (se necesita TLS 1.2 o posterior)
tls-handshake-failed = la conexión falló durante la negociación TLS: { $reason }
tls-handshake-failed-fix = puede que el puerto no hable TLS: para el puerto 110 usa security = "starttls"

## buzon check: nombres de los pasos (el JSON conserva los ingleses) y lo que encontró cada uno.

check-step-DNS = DNS
check-step-TCP = TCP
check-step-TLS = TLS
check-step-greeting = saludo
check-step-CAPA = CAPA
check-step-STLS = STLS
check-step-login = acceso
check-step-STAT = STAT
check-fix = solución:
check-connected = conectado a { $addr }
check-tls-accepted = { $version }, certificado aceptado para { $host } ({ $fingerprint })
check-no-capa = el servidor no muestra sus capacidades (CAPA); está permitido
check-stls-upgraded = conexión pasada a TLS, certificado aceptado para { $host } ({ $fingerprint })
check-stls-not-needed = no hace falta: TLS desde el primer byte
check-stls-not-used = no se usa: security = "none"
check-login-skipped = omitido: no se indicó contraseña
check-logged-in = sesión iniciada como { $user } ({ $mechanism })
check-stat = { $count ->
        [one] { $count } mensaje esperando, { $size }
       *[other] { $count } mensajes esperando, { $size }
    }

## buzon fetch.

fetch-none-new = no hay mensajes nuevos
fetch-new = { $count ->
        [one] 1 mensaje nuevo, { $size }
       *[other] { $count } mensajes nuevos, { $size }
    }
fetch-deleted = { $count } borrados del servidor
fetch-too-big = { $count } demasiado grandes, se quedan en el servidor
fetch-headers-only = { $count } guardados solo con la cabecera
fetch-deferred = { $count } aplazados por el programa de entrega
fetch-recovered = { $count } recuperados de una ejecución interrumpida
fetch-left-by-limit = { $count } quedan para la próxima vez (límite)
fetch-progress = { $account }: { $done }/{ $total } mensajes
fetch-note = aviso: { $text }
fetch-before-error = { $account }: { $summary } antes del error
fetch-on-server = { $account }: { $count ->
        [one] { $count } mensaje en el servidor
       *[other] { $count } mensajes en el servidor
    }
fetch-on-server-dry-run = { $account }: { $count ->
        [one] { $count } mensaje en el servidor (simulación, no se ha cambiado nada)
       *[other] { $count } mensajes en el servidor (simulación, no se ha cambiado nada)
    }
fetch-no-password = cuenta { $account }: no hay contraseña — pon password_command o password_env en el archivo de cuentas, o ejecútalo en un terminal para que te la pida
fetch-bad-every = --every { $value }: indica una duración de al menos 10s, por ejemplo 5m
cli-no-runtime = no se puede iniciar el entorno de ejecución: { $reason }

## buzon user.

user-cannot-create = no se puede crear { $path }: { $reason }
user-added = se ha añadido el usuario { $name } a { $file }
user-password-changed = se ha cambiado la contraseña de { $name }
user-removed = se ha eliminado el usuario { $name }; su buzón en { $maildir } se conserva
user-prompt-password = Contraseña:{" "}
user-prompt-again = Repítela:{" "}
user-cannot-read-password = no se puede leer la contraseña: { $reason }
user-cannot-read-stdin = no se puede leer la contraseña de la entrada estándar: { $reason }
user-passwords-differ = las dos contraseñas no coinciden; no se ha cambiado nada
user-empty-password = la contraseña está vacía; no se ha cambiado nada

## Archivos de configuración (buzon.toml): el marco de cada error. La descripción y la
## solución de cada clave siguen en inglés por ahora (ver docs/i18n.md).

config-line = {" "}línea { $line }
config-cannot-read = no se puede leer el archivo de configuración { $path }: { $reason } — revisa la ruta y sus permisos

## buzon setup.

setup-ask-password-needs-terminal = --ask-password necesita un terminal; usa --password-env o --password-command
setup-password-prompt = Contraseña de { $address } (solo para probar el acceso; no se guarda):{" "}
setup-cannot-read-password = no se puede leer la contraseña: { $reason }
setup-nothing-found = no se ha encontrado ningún servidor POP3 que funcione para { $domain } — pregunta a tu proveedor el nombre del servidor POP3 y el puerto, y añade la cuenta a mano (docs/client.md)
setup-needs-confirmation = { $host } (según { $source }) responde como servidor POP3, pero está fuera de { $domain }: la respuesta de { $source } podría estar falsificada, así que no se le ha enviado tu contraseña. Si { $host } es de verdad el servidor de tu proveedor, vuelve a ejecutarlo con --yes { $host }:
setup-outside-domain = { $host } está fuera de { $domain }: la respuesta de { $source } podría estar falsificada — asegúrate de que es de verdad el servidor de tu proveedor
setup-same-options = (las mismas opciones)
setup-warning = atención: { $text }
setup-cannot-create = no se puede crear { $path }: { $reason }
setup-cannot-write = no se puede escribir { $path }: { $reason }
setup-written-unparsable = la cuenta se ha escrito, pero el archivo no se puede leer: { $reason }
setup-written-invalid = la cuenta se ha escrito, pero no es válida: { $reason }
setup-added = se ha añadido la cuenta { $name } ({ $host }:{ $port } { $security }, usuario { $user }) a { $path }
setup-password-each-run = la contraseña se pedirá en cada ejecución; pon password_command o password_env en el archivo para evitarlo
setup-next = siguiente paso: buzon check { $name } ; buzon fetch { $name }
setup-ask-outside = { $host } (encontrado por { $source }) está fuera de { $domain }. Las respuestas DNS y los archivos autoconfig se pueden falsificar;
setup-ask-outside-question = ¿enviar tu contraseña a { $host } para probar el acceso? [s/N]{" "}

## buzon serve: líneas de arranque y errores (el registro sigue en inglés).

serve-listening = { $what } escuchando en { $addr }
serve-what-pop3 = POP3 (STLS)
serve-what-pop3s = POP3S (TLS implícito)
serve-what-lmtp = LMTP
serve-what-smtp = SMTP (STARTTLS)
serve-what-https = HTTPS (configuración automática de programas de correo)
serve-what-http = HTTP (configuración automática, redirige a HTTPS)
serve-what-metrics = Métricas de Prometheus (/metrics)
serve-certificate = certificado TLS SHA-256 { $fingerprint }
serve-first-user = primer arranque — se ha creado el usuario "demo" con la contraseña { $password }
serve-first-once = (solo se muestra esta vez; cámbiala con `buzon user passwd demo --data-dir { $dir }`)
serve-first-try = pruébalo: curl -k pop3s://demo:{ $password }@{ $addr }/1
serve-no-runtime = no se puede iniciar el entorno de ejecución asíncrono: { $reason }
serve-no-signal = no se puede vigilar { $signal }: { $reason }

## buzon sieve check.

sieve-cannot-read = no se puede leer { $path }: { $reason } — revisa la ruta y sus permisos
sieve-not-utf8 = { $path }: el byte { $byte } no es UTF-8 — los scripts Sieve son texto UTF-8 (RFC 5228 §2.2); guarda el archivo como UTF-8
sieve-valid = { $path } es válido

## buzon deliver (lo lee el administrador en el registro del MTA; códigos de salida de sysexits.h).

deliver-will-retry = { $reason } (el MTA lo reintentará)
deliver-bad-to = --to { $to } no es un nombre de usuario ni una dirección — indica, por ejemplo, --to alice o --to alice@example.com
deliver-from-control = --from contiene caracteres de control
deliver-no-outcome = no hay resultado de la entrega (el MTA lo reintentará)
deliver-cannot-spool = no se puede leer y guardar el mensaje: { $reason } (el MTA lo reintentará)
deliver-too-large = el mensaje supera max_message_size ({ $max } bytes)

## Por qué no se pudo resolver el nombre de un servidor.

dns-no-such-name = ese nombre no existe en el DNS
dns-timeout = la consulta DNS no respondió a tiempo
dns-no-addresses = el nombre no tiene ninguna dirección

## buzon migrate.

migrate-same-config = --from y --to indican la misma configuración: da a --to la configuración del almacén de destino
migrate-destination-not-empty = el destino ({ $to }) ya contiene { $users } usuarios y { $messages } mensajes — para continuar una migración interrumpida hacia él, ejecuta la misma orden con --resume (se omiten los usuarios que ya están y los mensajes que ya están por su UIDL)
migrate-start = migrando de { $from } a { $to }
migrate-user-added = { $user }: usuario añadido
migrate-unreadable = { $user }: el mensaje { $uidl } no se ha podido leer y no se ha copiado: { $reason }
migrate-mailbox = { $user }: { $folders } carpetas, { $messages } mensajes ({ $bytes } bytes): { $copied } copiados, { $skipped } ya estaban; suma de control origen { $source }, destino { $dest } ({ $dest_messages } mensajes, { $dest_bytes } bytes): { $verdict }
migrate-same = iguales
migrate-different = DISTINTOS
migrate-total = { $mailboxes } buzones, { $messages } mensajes, { $bytes } bytes: { $copied } copiados, { $skipped } ya estaban, { $unreadable } ilegibles; { $seconds } s
migrate-mismatch = el destino no coincide con el origen para { $users } — contiene mensajes que el origen no tiene (¿una migración anterior hacia él?) o ha perdido algunos; compáralo con la salida de `buzon migrate` de arriba
migrate-unreadable-total = { $count } mensajes no se han podido leer y no se han copiado (nombrados arriba); ejecútalo de nuevo con --resume cuando se puedan leer
setup-account-exists = { $file } ya tiene una cuenta "{ $name }" — elige otro nombre con --name o edita el archivo
fetch-cannot-read-password = no se puede leer la contraseña: { $reason }

## Configuration errors: what is wrong with a key (problem) and how to fix it.

config-auth-argon2-memory-kib-problem = no es, con los ajustes de iteraciones y paralelismo, un juego de parámetros de Argon2 válido
config-auth-argon2-memory-kib-fix = usa al menos 8 KiB por carril y 1 iteración; el valor por defecto es 19456 KiB, 2 iteraciones, 1 carril
config-auth-verify-concurrency-problem = es 0
config-auth-verify-concurrency-fix = permite al menos 1 verificación de contraseña simultánea
config-auth-password-scheme-problem = es { $value }, que no es un esquema para contraseñas nuevas
config-auth-password-scheme-fix = escribe "ARGON2ID" (el predeterminado) o "SCRAM-SHA-256" (permite además entrar con SCRAM-SHA-256)
config-oauth-url-problem = { $url } no es una URL https://
config-oauth-url-fix = escribe la dirección https:// del emisor; un token comprobado por HTTP sin cifrar podría falsificarlo cualquiera en el camino
config-oauth-issuer-problem = falta
config-oauth-issuer-fix = pon en issuer la dirección https:// que tus tokens llevan en la claim iss, por ejemplo issuer = "https://login.example.com"
config-oauth-audience-problem = falta o está vacío
config-oauth-audience-fix = enumera las audiencias que llevan en la claim aud los tokens para este servidor, por ejemplo audience = ["buzon"]; un token para otro servicio no debe abrir un buzón
config-oauth-secret-problem = no se puede leer { $path }: { $reason }
config-oauth-secret-fix = pon solo el secreto del cliente de introspección en ese archivo (modo 0600)
config-oauth-introspection-problem = introspection_url, client_id y client_secret_file van juntos
config-oauth-introspection-fix = pon los tres para comprobar los tokens por introspección (RFC 7662), o ninguno para comprobarlos como JWT con las claves del emisor
oauth-ca-unreadable = no se pueden leer los certificados de CA de [oauth] ca_file { $path }: { $reason } — apunta ca_file al archivo PEM de la autoridad de certificación del emisor
config-delivery-local-domains-problem = está vacío, así que no se podría aceptar ningún correo
config-delivery-local-domains-fix = enumera los dominios para los que este servidor recibe correo, p. ej. ["example.com"]
config-delivery-local-domains-2-problem = contiene { $bad }, que no es un nombre de dominio
config-delivery-local-domains-2-fix = escribe nombres de dominio como "example.com"
config-delivery-recipient-delimiter-problem = es { $s }
config-delivery-recipient-delimiter-fix = usa un signo de puntuación como "+" o "-" (RFC 5233), o "" para desactivar las subdirecciones
config-delivery-catch-all-domain-problem = nombra { $domain }, que no está en local_domains
config-delivery-catch-all-domain-fix = añade el dominio a `local_domains` o quita su catch-all
config-delivery-catch-all-user-problem = nombra { $user }, que no es un nombre de usuario
config-delivery-catch-all-user-fix = indica el nombre de un usuario del archivo de usuarios
config-delivery-over-quota-reply-problem = es { $other }
config-delivery-over-quota-reply-fix = usa "452" (temporal: el remitente lo reintenta; el valor por defecto) o "552" (permanente: el remitente devuelve el mensaje)
config-delivery-max-message-size-problem = es de { $max_message_size } bytes
config-delivery-max-message-size-fix = permite al menos 64K (RFC 5321 §4.5.3.1.7); el valor por defecto es 50M
config-delivery-max-recipients-problem = es { $max_recipients }
config-delivery-max-recipients-fix = el RFC 5321 §4.5.3.1.8 exige aceptar al menos 100 destinatarios
config-limits-auth-timeout-problem = es { $v1 }
config-limits-auth-timeout-fix = usa al menos "1s"; el valor por defecto es "2m"
config-limits-ipv6-prefix-problem = es { $v1 }
config-limits-ipv6-prefix-fix = usa una longitud de prefijo de 1 a 128: 64 (el valor por defecto) cuenta una /64; 128, cada dirección
config-limits-idle-timeout-problem = es { $v1 }, menos de los 10 minutos que exige el RFC 1939 §3
config-limits-idle-timeout-fix = usa "10m" o más
config-limits-zero-problem = es 0, así que nadie podría conectarse
config-limits-zero-fix = usa un número positivo
config-mode-problem = está en un listener TCP
config-mode-fix = `mode` solo vale para sockets UNIX (`address = "unix:/ruta"`); quítalo
config-address-problem = no es una dirección con puerto: { $v1 }
config-address-fix = escribe "IP:PUERTO", p. ej. "0.0.0.0:995" o "[::]:110"
config-address-2-problem = { $v1 } es un socket UNIX para { $v2 }
config-address-2-fix = los sockets UNIX son solo para LMTP; da a los listeners de POP3 y SMTP una IP:PUERTO
config-address-3-problem = { $v1 } no es una ruta absoluta
config-address-3-fix = escribe "unix:/run/buzon/lmtp"
config-mode-2-problem = no es un permiso octal: { $m }
config-mode-2-fix = escribe, por ejemplo, "0660" (pueden conectarse el dueño y el grupo)
config-log-format-problem = es { $other }
config-log-format-fix = usa "text" (el valor por defecto) o "json" (un objeto JSON por línea, para recolectores de registros)
config-pop3-expire-problem = es { $e }
config-pop3-expire-fix = usa "NEVER" o un número de días (RFC 2449 §6.7)
config-pop3-language-problem = es { $tag }
config-pop3-language-fix = usa "en" (inglés) o "es" (español); los clientes pueden elegir igualmente con LANG (RFC 6856)
config-pop3-serve-folders-fix = nombra las carpetas Maildir++ como las muestran los programas de correo, p. ej. "Junk" o "Lists.rust"
config-pop3-dovecot-uidl-format-problem = { $text }: { $why }
config-pop3-dovecot-uidl-format-fix = copia el pop3_uidl_format de Dovecot (`doveconf pop3_uidl_format`; el de Dovecot por defecto es "{ $v1 }")
config-pop3-dovecot-uidl-format-2-problem = está puesto, pero uidl_source es "buzon" (o no está puesto) y lo ignoraría
config-pop3-dovecot-uidl-format-2-fix = añade uidl_source = "dovecot" (o "auto") a [pop3], o quita la clave
config-pop3-dovecot-uidl-format-3-problem = está puesto, pero uidl_source es "courier", que sirve los UIDL de Courier y lo ignora
config-pop3-dovecot-uidl-format-3-fix = quita la clave, o usa uidl_source = "auto" para Maildirs de ambos servidores
config-pop3-uidl-source-problem = es { $other }
config-pop3-uidl-source-fix = usa "buzon" (el valor por defecto), "dovecot" (los UIDL que servía Dovecot, de dovecot-uidlist), "courier" (los de Courier, de courierpop3dsizelist) o "auto" (el archivo de los dos que tenga cada Maildir)
config-hostname-problem = no es un nombre de host: { $hostname }
config-hostname-fix = usa el nombre DNS del servidor, p. ej. "mail.example.com"
config-server-group-problem = está puesto pero `server.user` no
config-server-group-fix = pon también `user` (no es seguro cambiar solo de grupo), o quita `group`
config-server-user-problem = no es un nombre de usuario: { $user }
config-server-user-fix = usa un nombre de cuenta de sistema como "buzon" (letras ASCII, dígitos, _ - .) o un id de usuario numérico
config-server-user-2-problem = es { $user }, el superusuario
config-server-user-2-fix = crea una cuenta sin privilegios (`useradd --system --no-create-home --shell /usr/sbin/nologin buzon`) y pon su nombre aquí
config-server-group-2-problem = no es un nombre de grupo: { $g }
config-server-group-2-fix = usa un nombre de grupo como "buzon" o un id de grupo numérico
config-server-group-3-problem = es { $g }, el grupo del superusuario
config-server-group-3-fix = usa el grupo propio de la cuenta del servidor, p. ej. "buzon"
config-smtp-hostname-problem = no es un nombre de host: { $name }
config-smtp-hostname-fix = usa el nombre DNS del servidor, p. ej. "mx.example.com"
config-smtp-max-connections-per-ip-problem = es 0, así que nadie podría conectarse
config-smtp-max-connections-per-ip-fix = usa un número positivo
config-smtp-timeout-problem = es { $v }
config-smtp-timeout-fix = usa al menos "1s"; el RFC 5321 §4.5.3.2.7 recomienda 5 minutos (el valor por defecto)
config-store-kind-problem = es { $other }
config-store-kind-fix = usa "maildir" (Maildirs locales, el valor por defecto) o "postgres" (una base de datos compartida por varios nodos)
config-store-maildir-key-problem = está puesto, pero el almacén es Maildir (`kind` es "maildir" o no está puesto) y lo ignoraría
config-store-maildir-key-fix = añade kind = "postgres" a [store] para usar una base de datos PostgreSQL, o quita la clave
config-store-kind-2-problem = es "postgres" pero `url` no está puesto
config-store-kind-2-fix = añade url = "postgresql://buzon@db.example:5432/buzon?sslmode=require" a [store]
config-store-url-problem = es { $v1 }, que no es una URL de PostgreSQL
config-store-url-fix = escribe postgresql://usuario@host:puerto/base_de_datos (la contraseña va en password_file o password_env)
config-store-password-env-problem = está puesto junto con `password_file`
config-store-password-env-fix = deja uno de los dos: la contraseña viene de un archivo o de una variable de entorno
config-store-password-file-problem = nombra { $v1 }, que no se puede leer: { $e }
config-store-password-file-fix = crea el archivo con la contraseña de la base de datos en una línea, legible por la cuenta con la que se ejecuta buzon
config-store-password-file-2-problem = nombra { $v1 }, que está vacío
config-store-password-file-2-fix = escribe la contraseña de la base de datos en la primera línea del archivo
config-store-password-env-2-problem = nombra la variable de entorno { $var }, que está vacía
config-store-password-env-2-fix = pon en { $var } la contraseña de la base de datos, en el entorno en el que arranca buzon
config-store-password-env-3-problem = nombra la variable de entorno { $var }, que no está definida
config-store-password-env-3-fix = pon en { $var } la contraseña de la base de datos, en el entorno en el que arranca buzon, o usa password_file
config-store-pool-size-problem = es { $n }
config-store-pool-size-fix = usa de 1 a { $MAX_POOL } conexiones (el valor por defecto es 16); nodos × pool_size debe quedar por debajo del max_connections de la base de datos
config-store-lock-lease-problem = es { $v1 }
config-store-lock-lease-fix = usa de 5s a 1h (el valor por defecto es 60s): los bloqueos más cortos se pierden entre renovaciones; los más largos dejan bloqueados los buzones de un nodo caído
config-store-connect-timeout-problem = es { $v1 }
config-store-connect-timeout-fix = usa de 1s a 5m (el valor por defecto es 5s)
config-tls-certificate-problem = está puesto pero `tls.key` no
config-tls-certificate-fix = pon los dos, o ninguno para usar un certificado autofirmado generado
config-tls-key-problem = está puesto pero `tls.certificate` no
config-tls-key-fix = pon los dos, o ninguno para usar un certificado autofirmado generado
config-tls-min-version-problem = es { $other }
config-tls-min-version-fix = usa "1.2" (el valor por defecto) o "1.3"; las versiones anteriores no se admiten
config-not-duration-problem = no es una duración: { $value }
config-not-duration-fix = escribe un número con su unidad, p. ej. "30s", "10m", "2h"
config-not-size-problem = no es un tamaño: { $value }
config-not-size-fix = escribe un número de bytes o un número con su unidad, p. ej. "50M" o "1G"
config-bad-network-problem = contiene una red no válida: { $value }
config-bad-network-fix = usa una dirección o una red CIDR, p. ej. "10.0.0.0/8" o "2001:db8::/32"
config-unknown-key = clave desconocida `{ $key }`: revisa cómo está escrita y en qué sección (docs/buzon.sample.toml enumera todas las claves)
config-unknown-key-expected = clave desconocida `{ $key }`; esta sección admite { $expected }

## The accounts file of buzon fetch.

accounts-host-missing = falta: el nombre del servidor POP3, p. ej. host = "pop.example.com"
accounts-user-missing = falta: suele ser tu dirección de correo
accounts-port-range = debe estar entre 1 y 65535
accounts-bad-fingerprint = { $value } no es una huella SHA-256 (sha256: y 64 dígitos hexadecimales)
accounts-security-none-with-tls = es "none" pero hay ajustes de TLS (fingerprint, ca_file) — usa "tls" o "starttls"
accounts-bad-timeout = { $value } no es una duración como "60s" o "2m"
accounts-bad-connect-timeout = { $value } no es una duración como "20s"
accounts-mda-empty = está vacío — indica el programa y sus argumentos, p. ej. ["procmail", "-d", "yo"]
accounts-no-destination = sin destino — pon uno de maildir, mbox o mda
accounts-many-destinations = más de un destino — pon exactamente uno de maildir, mbox o mda
accounts-days-without-keep = supone guardar los mensajes un tiempo, pero keep = false
accounts-days-zero = debe ser al menos 1 (usa keep = false para borrar enseguida)
accounts-bad-size = { $value } no es un tamaño como "20M" (potencias de 1024)
accounts-two-passwords = y password_env están puestos a la vez — elige uno
accounts-password-command-empty = está vacío
accounts-password-env-unset = cuenta { $account }: password_env nombra { $var }, que no está definida — expórtala o usa password_command
accounts-password-command-is-empty = cuenta { $account }: password_command está vacío
accounts-password-command-cannot-run = cuenta { $account }: no se puede ejecutar password_command { $program }: { $reason }
accounts-password-command-failed = cuenta { $account }: password_command { $program } ha fallado ({ $status })
accounts-none = no hay ninguna cuenta { $name }: el archivo de cuentas no tiene ninguna — ejecuta `buzon setup DIRECCIÓN` para añadir una
accounts-unknown = no hay ninguna cuenta { $name } — cuentas conocidas: { $known }
accounts-syntax-line = línea { $line }: { $message }

## buzon setup: discovery steps and probe results.

discover-not-address = { $address } no es una dirección de correo como yo@example.com
discover-looking-up-srv = buscando el registro SRV { $name }
discover-srv-not-offered = { $name }: el dominio indica que no ofrece este servicio
discover-autoconfig-no-pop3 = { $url }: no indica ningún servidor POP3
discover-fetching = descargando { $url }
discover-looking-up-mx = buscando el registro MX de { $domain }
discover-mx-parent = el correo de { $domain } va a { $mx }; se prueban servidores de { $parent }
discover-probing = probando { $host }:{ $port } ({ $security })
discover-no-capa = sin CAPA
discover-answers = el servidor POP3 responde ({ $caps })
discover-outside-domain = el servidor POP3 responde ({ $caps }); no se ha iniciado sesión: { $host } está fuera de { $domain }, y tu contraseña solo se envía allí cuando confirmes que es el servidor de tu proveedor
discover-reconnect-failed = el servidor POP3 responde, pero ha fallado la reconexión: { $reason }
discover-logged-in = sesión iniciada como { $user } ({ $method }; { $caps })
discover-no-user-form = el servidor POP3 responde, pero ninguna forma del nombre de usuario ha iniciado sesión: { $reason }

## Trust settings of the retrieval client.

tls-ca-unreadable = no se puede leer el archivo de CA { $path }: { $reason } — revisa el ajuste ca_file
tls-ca-not-pem = { $path } no es un archivo de certificados PEM: { $reason }
tls-ca-unusable = { $path }: certificado inutilizable: { $reason }
tls-ca-empty = { $path } no contiene ningún certificado PEM (-----BEGIN CERTIFICATE-----) — revisa el ajuste ca_file
tls-no-roots = no hay autoridades de certificación de confianza: el sistema no tiene ninguna instalada (instala ca-certificates) y no hay ca_file
tls-bad-server-name = { $name } no es un nombre de host válido para TLS — pon tls_server_name

## Errors of the users file, the mail store and delivery, and the file operations they name.

auth-unknown-scheme = esquema de contraseña desconocido { $scheme } — se admiten: ARGON2ID, ARGON2I, SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, SCRAM-SHA-256, PLAIN, CLEARTEXT; restablece la contraseña con `buzon user passwd`
auth-bad-hash = hash de contraseña mal formado: { $detail } — restablece la contraseña con `buzon user passwd`
auth-parse = línea { $line } de { $path }: { $message }
io-cannot = no se puede { $action } { $path }: { $reason }
auth-link = { $path } es un enlace simbólico, que no se sigue: quien pueda cambiar su carpeta podría apuntarlo a otro archivo (/etc/shadow, por ejemplo) para que este programa lo abra o lo reescriba — { $fix }
auth-user-exists = el usuario { $user } ya existe — usa `buzon user passwd` para cambiar la contraseña
auth-no-such-user = no existe el usuario { $user } — consulta los usuarios con `buzon user list`
auth-bad-username = el nombre de usuario { $name } no está permitido: { $reason }
auth-bad-network = red no válida { $input }: { $reason } — escribe una dirección (10.0.0.1) o un bloque CIDR (10.0.0.0/8, fd00::/8)
auth-bad-params = parámetros de hash de contraseñas no válidos: { $detail }
store-in-use = el buzón está en uso por otra sesión POP3; cierra el otro programa de correo o espera a que termine
store-no-space = no se puede { $action } { $path }: no queda espacio (disco lleno o cuota agotada): { $reason }
store-unavailable = el almacén de correo no está disponible por ahora: { $reason }
store-not-found = no se encuentra el buzón o el mensaje
store-too-big = el mensaje supera el límite de tamaño de { $limit } bytes
store-partial-expunge = borrado incompleto: { $deleted } mensaje(s) borrado(s), { $failed } no se han podido borrar
intake-users-file = no se puede cargar el archivo de usuarios: { $reason }
intake-aliases-file = no se puede leer el archivo de alias { $path }: { $reason } — revisa `delivery.aliases_file` y sus permisos
io-action-create-temporary-file = crear el archivo temporal
io-action-fsync-directory = sincronizar (fsync) la carpeta
io-action-fsync = sincronizar (fsync)
io-action-lock = bloquear
io-action-open-lock-file = abrir el archivo de bloqueo
io-action-open = abrir
io-action-read-the-attributes-of = leer los atributos de
io-action-read = leer
io-action-rename-into-place = renombrar a su sitio
io-action-resolve = resolver
io-action-set-mode-of = cambiar los permisos de
io-action-stat = consultar
io-action-write = escribir
io-action-create-directory = crear la carpeta
io-action-create = crear
io-action-delete = borrar
io-action-inspect = examinar
io-action-list = listar
io-action-move-into-new = mover a new/
io-action-remove = eliminar
io-action-set-the-delivery-time-of = fijar la hora de entrega de
accounts-field = cuenta { $account }: { $key }: { $what }

## Contraseñas de aplicación y verificación en dos pasos (buzon user app-password, buzon user 2fa).
pop3-two-step-required = Esta cuenta usa verificación en dos pasos: entra con una contraseña de aplicación, no con la contraseña principal (el administrador la crea con: buzon user app-password add { $user } NOMBRE).
app-password-name-empty = la contraseña de aplicación necesita un nombre, como "portátil — Thunderbird"
app-password-name-bad = el nombre de una contraseña de aplicación tiene como mucho { $max } caracteres y ningún carácter de control
app-password-name-taken = ya hay una contraseña de aplicación llamada { $name } — elige otro nombre o revoca antes esa
app-password-too-many = este usuario tiene { $max } contraseñas de aplicación, el máximo posible — revoca las que no uses con `buzon user app-password revoke`
app-password-added = contraseña de aplicación { $name } de { $user } (ámbito: { $scope }):
app-password-added-note = Escríbela en el programa de correo en lugar de la contraseña principal (con o sin los guiones). Solo se muestra ahora y se guarda solo como hash; si se pierde, revócala y crea otra.
app-password-added-no-two-step = La verificación en dos pasos está desactivada para { $user }: la contraseña principal también sirve. Actívala con `buzon user 2fa enable { $user }`.
app-password-none = { $user } no tiene contraseñas de aplicación
app-password-list-header = NOMBRE	ID	ÁMBITO	CREADA	ÚLTIMO USO	DESDE
app-password-never-used = nunca
app-password-revoked = revocada la contraseña de aplicación { $name } ({ $id }) de { $user }; desde ahora fallan los accesos con ella
app-password-not-found = { $user } no tiene ninguna contraseña de aplicación llamada { $name } — consúltalas con `buzon user app-password list { $user }`
two-step-already-on = la verificación en dos pasos ya está activada para { $user } — para configurar un teléfono nuevo, ejecuta `buzon user 2fa disable { $user }` y vuelve a activarla
two-step-scan = Escanea este código con una app de autenticación (Aegis, Google Authenticator, FreeOTP…) en el teléfono de { $user }, o escribe en ella la URI o el secreto:
two-step-secret = Secreto: { $secret }
two-step-prompt-code = Código que muestra la app:{" "}
two-step-code-wrong = ese no es el código actual de la app — comprueba que la hora del teléfono es correcta y escribe el código que se ve ahora
two-step-cannot-read-code = no se puede leer el código: { $reason }
two-step-not-confirmed = no se dio ningún código válido, así que la verificación en dos pasos sigue desactivada para { $user } — vuelve a ejecutar la orden y escribe el código de 6 cifras que muestra la app
two-step-enabled = La verificación en dos pasos está activada para { $user }. POP3 solo acepta ahora contraseñas de aplicación (`buzon user app-password add { $user } NOMBRE`). Códigos de recuperación, cada uno de un solo uso, por si se pierde el teléfono:
two-step-recovery-note = Guárdalos en un lugar seguro: solo se muestran ahora.
two-step-disabled = la verificación en dos pasos está desactivada para { $user }: la contraseña principal vuelve a servir en POP3; las contraseñas de aplicación siguen hasta que se revoquen
two-step-status-off = la verificación en dos pasos está desactivada para { $user }; { $apps } contraseñas de aplicación
two-step-status-on = la verificación en dos pasos está activada para { $user } desde { $since }; quedan { $recovery } códigos de recuperación; { $apps } contraseñas de aplicación
two-step-status-apps-only = la verificación en dos pasos está activada para { $user } sin app de autenticación (el archivo de usuarios pone two_step): POP3 solo acepta contraseñas de aplicación; { $apps } contraseñas de aplicación
credentials-link-fix = elimina el enlace; `buzon user` vuelve a crear { $path } como archivo o carpeta reales
credentials-not-a-file = { $path } no es un archivo de credenciales (no es un archivo normal, o pasa de 1 MiB) — muévelo a otro sitio
credentials-damaged = no se puede leer { $path }: { $reason } — restáuralo de una copia de seguridad o elimínalo (se pierden entonces las contraseñas de aplicación y la verificación en dos pasos del usuario)
credentials-damaged-row = no se pueden leer las credenciales de { $user } en la base de datos: { $reason } — restaura la fila de una copia de seguridad o bórrala (se pierden entonces las contraseñas de aplicación y la verificación en dos pasos del usuario)

## OAuth 2.0 in the retrieval client (buzon fetch --authorize, check).
client-token-refused = { $host } rechazó el token OAuth de { $user } ({ $status }) — el token caducó o se revocó: vuelve a iniciar sesión con `buzon fetch --authorize`, o comprueba que el cliente OAuth de la cuenta pueda leer el correo por POP3
client-oauth = { $account }: { $detail } — { $fix }
oauth-token-file-bad = no se pueden leer los tokens OAuth de { $path }: { $reason }
oauth-token-file-unwritable = no se pueden guardar los tokens OAuth en { $path }: { $reason }
oauth-unreachable = no se pudo contactar con el proveedor OAuth en { $url } ({ $reason })
oauth-unreachable-fix = comprueba la red y la dirección del proveedor (oauth_token_url, oauth_device_url) y vuelve a intentarlo
oauth-not-json = el proveedor OAuth en { $url } respondió HTTP { $status } con algo que no es un token
oauth-not-signed-in = todavía no se ha iniciado sesión con OAuth
oauth-authorize-fix = ejecuta `buzon fetch --authorize { $account }`, abre en cualquier dispositivo la dirección que muestra y escribe el código
oauth-expired-no-refresh = el token de acceso OAuth caducó y el proveedor no dio un token de renovación
oauth-refresh-refused = el proveedor OAuth no quiso renovar el token de acceso ({ $error } { $description }): la sesión caducó o se revocó el acceso
oauth-no-token = el proveedor OAuth respondió HTTP { $status } sin token de acceso
oauth-device-refused = el proveedor OAuth en { $url } no quiso iniciar la sesión ({ $reason })
oauth-device-refused-fix = comprueba oauth_client_id (y oauth_client_secret), y que el cliente OAuth permita el flujo de dispositivo y el ámbito
oauth-device-expired = el código de inicio de sesión caducó antes de aprobarse
oauth-device-denied = se rechazó el inicio de sesión en la página del proveedor
accounts-oauth-client-id = falta oauth_client_id: OAuth necesita el id del cliente OAuth que registraste en el proveedor
accounts-oauth-endpoints = pon oauth_provider ("gmail" o "microsoft"), o bien oauth_device_url y oauth_token_url
accounts-oauth-https = { $url } no es una dirección https://; los tokens no deben viajar sin cifrar
accounts-oauth-needs-source = un acceso OAuth necesita un token: pon oauth_provider y oauth_client_id (y ejecuta `buzon fetch --authorize`), o password_command con un programa que imprima el token
oauth-authorize-not-oauth = { $account } no usa OAuth: pon auth = "oauthbearer" o "xoauth2" con oauth_provider y oauth_client_id
oauth-authorize-open = { $account }: en cualquier dispositivo, abre { $url } y escribe el código { $code }
oauth-authorize-direct = (o abre { $url }, que ya lleva el código)
oauth-authorize-done = { $account }: sesión iniciada; los tokens están en { $file } y se renuevan cuando caducan
setup-oauth-offer = { $host } solo acepta accesos POP3 con OAuth 2.0 o con una contraseña de aplicación: para usar OAuth, registra un cliente OAuth en el proveedor y vuelve a ejecutar setup con --oauth-client-id ID (y --oauth-client-secret si el proveedor da uno); o crea una contraseña de aplicación en los ajustes de seguridad de la cuenta y úsala como contraseña
setup-oauth-unknown = se dio --oauth-client-id, pero Buzón no conoce los puntos OAuth de { $host }: pon oauth_device_url, oauth_token_url y oauth_scope en la cuenta (docs/client.md)
setup-oauth-next = Inicia sesión una vez con: buzon fetch --authorize { $name } (abre en cualquier dispositivo la dirección que muestra y escribe el código); después, buzon fetch { $name }

## Sieve compile errors (buzon sieve check, and delivery's log). Sieve keywords and
## script fragments stay as written.
sieve-pos = línea { $line }:{ $column }
sieve-tok-number = el número { $number }
sieve-tok-string = una cadena
sieve-tok-eof = el final del script
sieve-colon-needs-tag = `:` debe ir seguido del nombre de una etiqueta, como en `:is` o `:contains`
sieve-unexpected-char = carácter inesperado { $character }: Sieve no tiene ningún elemento así
sieve-unterminated-comment = comentario sin cerrar: este `/*` no tiene su `*/`
sieve-unterminated-string = cadena sin cerrar: estas `"` no tienen las `"` de cierre
sieve-unterminated-text = cadena de varias líneas sin cerrar: termínala con una línea que tenga solo `.`
sieve-invalid-number = número no válido `{ $number }`: un número son cifras seguidas, si acaso, de K, M o G (como en 100K)
sieve-number-too-large = número demasiado grande: el mayor número que Buzón acepta es { $max }
sieve-text-needs-line-break = `text:` debe ir seguido de un salto de línea (antes puede haber un comentario `#`); la cadena empieza en la línea siguiente
sieve-unmatched-brace = `{ "}" }` sin su `{ "{" }`
sieve-expected-command-found = se esperaba una orden y hay { $found }
sieve-expected-command = se esperaba una orden
sieve-nested-too-deeply = anidado demasiado: Buzón acepta como mucho { $max } niveles de bloques y pruebas; divide las condiciones
sieve-block-never-closed = este `{ "{" }` nunca se cierra: añade su `{ "}" }`
sieve-expected-semicolon = se esperaba `;` o un bloque después de `{ $name }` y hay { $found }
sieve-semicolon-missing = : ¿falta un `;`?
sieve-empty-string-list = lista de cadenas vacía: `[` `]` debe contener al menos una cadena
sieve-expected-string-in-list = se esperaba una cadena en esta lista y hay { $found }
sieve-expected-comma-bracket = se esperaba `,` o `]` en la lista de cadenas abierta en { $open } y hay { $found }
sieve-expected-test-found = se esperaba una prueba y hay { $found }
sieve-expected-comma-paren = se esperaba `,` o `)` en la lista de pruebas abierta en { $open } y hay { $found }
sieve-expected-test = se esperaba una prueba
sieve-why-replies = enviaría respuestas automáticas fuera
sieve-why-notifications = enviaría avisos fuera
sieve-why-redirect = redirect no está disponible: enviaría correo fuera
sieve-why-redirect-command = enviaría correo fuera; usa fileinto en su lugar
sieve-why-flags = las marcas IMAP no significan nada en POP3
sieve-why-variables = la extensión variables no está disponible
sieve-why-include = los scripts no pueden incluir otros scripts
sieve-why-unchanged = los mensajes se guardan tal como llegan
sieve-why-ihave = la extensión ihave no está disponible
sieve-why-mime = no se pueden recorrer las partes MIME
sieve-needs = `{ $name }` necesita { $what }
sieve-needs-require = { $what } necesita `require "{ $capability }";` al principio del script
sieve-else-without-if = `{ $name }` debe ir después del bloque de un `if` o `elsif`
sieve-copy-twice = `:copy` aparece dos veces
sieve-fileinto-tag-unsupported = Buzón no admite `:{ $tag }` en `fileinto`; solo `:copy`
sieve-fileinto-tag-unknown = argumento etiquetado desconocido `:{ $tag }` en `fileinto`; solo acepta `:copy`
sieve-what-folder = el nombre de la carpeta, como en fileinto "Work"
sieve-no-tags = `{ $name }` no lleva argumentos etiquetados como `:{ $tag }`
sieve-what-reason = el motivo, como en reject "no lo queremos aquí"
sieve-command-unsupported = Buzón no admite `{ $name }`: { $why }
sieve-command-unknown = orden desconocida `{ $name }`; Buzón admite require, if, elsif, else, stop, keep, discard, fileinto, reject y ereject
sieve-require-first = `require` debe ir antes que cualquier otra orden (RFC 5228 §3.2); muévelo al principio del script
sieve-what-capabilities = una lista de cadenas con las capacidades, como en require ["fileinto", "envelope"];
sieve-require-needs-names = `require` necesita nombres de capacidades en una cadena o lista de cadenas
sieve-extension-unsupported = Buzón no admite la extensión de Sieve "{ $extension }"; admite { $supported }
sieve-extension-unsupported-why = Buzón no admite la extensión de Sieve "{ $extension }": { $why }; admite { $supported }
sieve-extension-unknown = extensión de Sieve desconocida "{ $extension }" en `require`; Buzón admite { $supported }
sieve-one-test-not-list = `{ $name }` lleva una prueba, no una lista; combina pruebas con allof (…) o anyof (…)
sieve-what-test-before-block = una prueba antes de su bloque
sieve-what-block = un bloque `{ "{" } … { "}" }`
sieve-test-unsupported = Buzón no admite la prueba `{ $name }`
sieve-test-unknown = prueba desconocida `{ $name }`; Buzón admite address, envelope, header, exists, size, allof, anyof, not, true y false
sieve-the-envelope-test = la prueba `envelope`
sieve-the-header-names = los nombres de cabecera
sieve-the-envelope-parts = las partes del sobre
sieve-what-two-lists = dos listas de cadenas, { $what } y las claves, como en { $example }
sieve-a-match-type = tipo de coincidencia
sieve-a-comparator = comparador
sieve-an-address-part = parte de la dirección
sieve-comparator-needs-name = `:comparator` debe ir seguido del nombre de un comparador, como en :comparator "i;octet"
sieve-comparator-unsupported = Buzón no admite el comparador "{ $comparator }"; usa "i;ascii-casemap" (el predeterminado) o "i;octet"
sieve-relational-unsupported = Buzón no admite `:{ $tag }` (la extensión relational, RFC 5231)
sieve-regex-unsupported = Buzón no admite `:regex` (la extensión regex); usa :matches con * y ?
sieve-match-tag-unknown-header = argumento etiquetado desconocido `:{ $tag }` en `{ $name }`; acepta :is, :contains, :matches y :comparator
sieve-match-tag-unknown = argumento etiquetado desconocido `:{ $tag }` en `{ $name }`; acepta :is, :contains, :matches, :comparator, :all, :localpart, :domain, :user y :detail
sieve-what-test-list = una lista de pruebas entre paréntesis, como en { $name } (exists "From", exists "Date")
sieve-not-one-test = `not` lleva una prueba, no una lista; escribe not anyof (…) o not allof (…)
sieve-what-not-test = una prueba, como en not exists "Date"
sieve-only-one = solo se puede dar un { $what }; el primero está en { $first }
sieve-address-header = la prueba `address` solo mira cabeceras con direcciones (como From, To, Cc, Sender, Reply-To); "{ $header }" no es una de ellas; usa la prueba `header`
sieve-envelope-part = Buzón no admite la parte del sobre "{ $part }"; usa "from" o "to"
sieve-what-exists = una lista de cadenas con nombres de cabecera, como en exists ["From", "Date"]
sieve-size-tag-unknown = argumento etiquetado desconocido `:{ $tag }` en `size`; usa :over o :under
sieve-size-one-of = `size` lleva exactamente uno de :over y :under
sieve-what-size-tag = :over o :under, como en size :over 100K
sieve-size-needs-number = `size` necesita un número, como en size :over 100K
sieve-size-one-number = `size` lleva un solo número
sieve-what-number = un número, como en size :over 100K
sieve-tag-after-arguments = el argumento etiquetado `:{ $tag }` debe ir antes que los demás argumentos de `{ $name }` (el primero está en { $first })
sieve-needs-strings-here = `{ $name }` necesita aquí una cadena o lista de cadenas
sieve-needs-single-string = `{ $name }` necesita una sola cadena, no una lista, para { $what }
sieve-needs-string = `{ $name }` necesita una cadena: { $what }
sieve-what-a-string = una cadena: { $what }
sieve-one-string = `{ $name }` lleva una sola cadena: { $what }
sieve-bad-header-name = nombre de cabecera no válido { $header }: un nombre de cabecera es ASCII imprimible sin espacios ni `:`
sieve-no-arguments = `{ $name }` no lleva argumentos
sieve-unexpected-after = `{ $found }` inesperado después de `{ $name }`: ¿falta un `;`?
sieve-no-tests = `{ $name }` no lleva pruebas
sieve-no-block = `{ $name }` no lleva bloque; termínalo con `;`
sieve-test-no-arguments = la prueba `{ $name }` no lleva argumentos
sieve-unexpected-after-test = `{ $found }` inesperado después de la prueba `{ $name }`: ¿falta una `,` o un `)`?
sieve-test-no-test-list = la prueba `{ $name }` no lleva lista de pruebas

## The account's own pages (HTTPS /account).
web-title-login = Iniciar sesión
web-title-account = Tu cuenta de correo
web-signed-in-as = Sesión iniciada como { $user }
web-sign-out = Cerrar sesión
web-user = Nombre de usuario
web-password = Contraseña
web-code = Código de la app de autenticación (o un código de recuperación)
web-code-hint = El código solo hace falta con la verificación en dos pasos activada. Las contraseñas de aplicación no sirven aquí: usa la contraseña de la cuenta.
web-sign-in = Entrar
web-csrf = Este formulario está caducado o no viene de este sitio; recarga la página y vuelve a intentarlo.
web-login-failed = No se pudo iniciar sesión: revisa el nombre de usuario, la contraseña y, con verificación en dos pasos, el código.
web-login-throttled = Demasiados intentos fallidos desde aquí o para este usuario; espera unos minutos y vuelve a intentarlo.
web-login-unavailable = El servidor no puede comprobarlo ahora; inténtalo de nuevo en un momento.
web-app-passwords = Contraseñas de aplicación
web-app-none = Todavía no hay contraseñas de aplicación.
web-app-name = Nombre
web-app-scope = Dónde
web-app-scope-all = todos los protocolos de correo
web-app-created-col = Creada
web-app-last-used = Último uso
web-app-from = Desde
web-app-never = nunca
web-app-create = Crear contraseña de aplicación
web-app-revoke = Revocar
web-app-created = Contraseña de aplicación { $name }, que solo se muestra ahora:
web-two-step = Verificación en dos pasos
web-two-step-on = La verificación en dos pasos está activada: los programas de correo entran con contraseñas de aplicación.
web-two-step-off = La verificación en dos pasos está desactivada: los programas de correo pueden usar la contraseña de la cuenta.
web-two-step-enable = Activar la verificación en dos pasos
web-two-step-disable = Desactivar la verificación en dos pasos
web-two-step-scan = Escanea este código con una app de autenticación (Aegis, Google Authenticator, FreeOTP…), o escribe en ella el secreto, y después introduce el código que muestra.
web-two-step-secret = Secreto:
web-two-step-confirm = Confirmar
web-two-step-wrong-code = Ese código no es correcto: comprueba que la hora del teléfono es la buena y usa el código que se ve ahora.
web-two-step-enabled = La verificación en dos pasos está activada. Códigos de recuperación, cada uno de un solo uso, por si se pierde el teléfono:
web-setup = Configura tu programa de correo
web-setup-text = Correo entrante (POP3): servidor { $host }, puerto { $port }, SSL/TLS activado, nombre de usuario { $user }, contraseña normal (una contraseña de aplicación si la verificación en dos pasos está activada).
web-apple-profile = Perfil de configuración para Apple Mail (iPhone, iPad, Mac)
web-back = Volver a la cuenta
web-password-title = Contraseña
web-password-current = Contraseña actual
web-password-new = Contraseña nueva
web-password-again = Contraseña nueva otra vez
web-password-change = Cambiar la contraseña
web-password-short = La contraseña nueva es demasiado corta: usa al menos 10 caracteres, por ejemplo cuatro palabras sin relación entre sí.
web-password-weak = La contraseña nueva es demasiado fácil de adivinar (fuerza { $score } de 4; hace falta al menos 3): evita nombres, fechas, secuencias del teclado y palabras comunes, o usa cuatro palabras sin relación.
web-password-current-wrong = La contraseña actual no es correcta; no se ha cambiado nada.
web-password-differ = Las dos contraseñas nuevas no coinciden; no se ha cambiado nada.
web-password-changed = Contraseña cambiada. Los programas de correo que la usen necesitan la nueva; se ha cerrado la sesión en los demás navegadores.
web-admin = Administración
web-admin-only = Solo los administradores ([web] admins) pueden ver esta página.
web-admin-users = Usuarios
web-admin-scheme = Esquema de contraseña
web-admin-state = Estado
web-admin-active = activo
web-admin-disabled = desactivado
web-admin-enable = Activar
web-admin-disable = Desactivar
web-admin-reset = Contraseña nueva
web-admin-add = Añadir usuario
web-admin-sessions = Sesiones POP3 abiertas
web-admin-open-for = Abierta desde hace
web-admin-failing = Accesos fallidos y penalizaciones
web-admin-failures = Fallos recientes
web-admin-penalty = El siguiente intento espera
web-admin-kind-user = usuario
web-admin-kind-network = red
web-admin-counters-title = Contadores desde el arranque
web-admin-counters = { $ok } accesos, { $failed } fallidos; { $delivered } mensajes entregados, { $delivery_failures } entregas fallidas.
web-mailbox = Buzón
web-usage-of = { $used } de { $limit } usados ({ $percent } %), { $messages } mensajes.
web-usage = { $used } usados, { $messages } mensajes; sin cuota.
web-logins = Accesos recientes
web-logins-none = Todavía no hay accesos registrados.
web-logins-when = Cuándo
web-logins-how = Cómo
web-steps-thunderbird-title = Thunderbird
web-steps-thunderbird = Añade una cuenta de correo con tu nombre, dirección y contraseña: Thunderbird encuentra los ajustes solo. Si lo pide, elige POP3, servidor { $host }, puerto { $port }, SSL/TLS, contraseña normal, nombre de usuario { $user }.
web-steps-outlook-title = Outlook
web-steps-outlook = Archivo › Agregar cuenta, escribe tu dirección, elige Opciones avanzadas › Permitirme configurar manualmente mi cuenta › POP. Correo entrante: { $host }, puerto { $port }, con "Este servidor requiere una conexión cifrada (SSL/TLS)" marcado; nombre de usuario { $user }.
web-steps-apple-title = Apple Mail (iPhone, iPad, Mac)
web-steps-apple = Descarga el perfil de configuración de arriba y ábrelo (Ajustes › Perfil descargado › Instalar); o añade una cuenta de tipo Otra › Cuenta de correo › POP con servidor { $host } y nombre de usuario { $user }.
web-steps-android-title = Android (Thunderbird para Android, K-9 Mail)
web-steps-android = Añade una cuenta, escribe tu dirección y elige POP3 cuando lo pregunte: servidor { $host }, seguridad SSL/TLS, puerto { $port }, nombre de usuario { $user }.
web-steps-fetch-title = buzon fetch
web-steps-fetch = buzon setup con tu dirección escribe la cuenta por ti; o buzon fetch --host { $host } --port { $port } --user { $user } --maildir ~/Maildir.
web-errors-title = Cuando no funciona
web-error-password = "Error de autenticación" o el programa vuelve a pedir la contraseña: la contraseña no es correcta (con la verificación en dos pasos activada, usa una contraseña de aplicación), o el nombre de usuario debe ser { $user }.
web-error-server = "No se encuentra el servidor": el nombre del servidor no es correcto; es { $host }.
web-error-firewall = Se queda esperando y al final desiste (un tiempo agotado, no un rechazo): un cortafuegos o un antivirus bloquea el puerto { $port }; permítelo o prueba desde otra red.
web-error-tls = Un aviso de seguridad o de certificado, o "conexión rechazada" en el puerto 110: activa SSL/TLS y usa el puerto { $port }; el certificado debe ser para { $host }.
web-admin-quota = Cuota
web-admin-quota-bad = { $value } no es un tamaño: escribe 500M, 1G o 2G, o déjalo vacío para el valor predeterminado
