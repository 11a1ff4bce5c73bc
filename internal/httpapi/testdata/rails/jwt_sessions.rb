# The Rails app's side of TestRailsSessions_Ruby: what the jwt_sessions gem
# does on sign-in and in authorize_access_request!, with the same libraries
# it uses (ruby-jwt, redis-rb). The gem itself is not packaged in Debian, so
# this reimplements the few lines of it that matter, from its source
# (tuwukee/jwt_sessions, lib/jwt_sessions/):
#   session.rb        login: a CSRF token, an access token, a refresh token
#   csrf_token.rb     the secret is SecureRandom.base64(32); a request's token
#                     is strict base64 of 32 (raw) or 64 (pad + pad^secret) bytes
#   access_token.rb   payload + uid + exp (+ ruid with refresh_by_access_allowed)
#   token.rb          JWT.encode / JWT.decode with the raw key and HS256
#   store_adapters/redis_store_adapter.rb
#                     persist_access: SET then EXPIREAT; persist_refresh: HMSET
#                     csrf, access_expiration, access_uid, HSET expiration,
#                     EXPIREAT; fetch_access: GET "#{prefix}_access_#{uid}"
#
# ruby jwt_sessions.rb login REDIS_URL PREFIX KEY USER_ID
#   prints {"access": ..., "csrf": ..., "ruid": ...}
# ruby jwt_sessions.rb authorize REDIS_URL PREFIX KEY ACCESS_TOKEN CSRF_TOKEN
#   prints "ok", or "unauthorized: <why>"
require "base64"
require "json"
require "jwt"
require "redis"
require "securerandom"

CSRF_LENGTH = 32

def masked(encoded)
  raw = Base64.strict_decode64(encoded)
  pad = SecureRandom.random_bytes(CSRF_LENGTH)
  Base64.strict_encode64(pad + pad.bytes.zip(raw.bytes).map { |a, b| a ^ b }.pack("C*"))
end

def valid_authenticity_token?(encoded, token)
  given = Base64.strict_decode64(token)
  raw = Base64.strict_decode64(encoded)
  given = given[0...CSRF_LENGTH].bytes.zip(given[CSRF_LENGTH..].bytes).map { |a, b| a ^ b }.pack("C*") if given.bytesize == 2 * CSRF_LENGTH
  given.bytesize == CSRF_LENGTH && given == raw
rescue ArgumentError
  false
end

cmd, url, prefix, key, *rest = ARGV
redis = Redis.new(url: url)
case cmd
when "login"
  user_id = Integer(rest[0])
  csrf = SecureRandom.base64(CSRF_LENGTH)
  uid, ruid = SecureRandom.uuid, SecureRandom.uuid
  access_exp = Time.now.to_i + 3600
  exp = Time.now.to_i + 14 * 24 * 3600
  access_key = "#{prefix}_access_#{uid}"
  redis.set(access_key, csrf)
  redis.expireat(access_key, access_exp)
  refresh_key = "#{prefix}_user_#{user_id}_refresh_#{ruid}"
  redis.hmset(refresh_key, :csrf, csrf, :access_expiration, access_exp, :access_uid, uid)
  redis.hset(refresh_key, :expiration, exp)
  redis.expireat(refresh_key, exp)
  access = JWT.encode({ "exp" => access_exp, "user_id" => user_id, "uid" => uid, "ruid" => ruid }, key, "HS256")
  puts JSON.generate(access: access, csrf: masked(csrf), ruid: ruid)
when "authorize"
  token, csrf_token = rest
  begin
    payload, = JWT.decode(token, key, true, algorithm: "HS256")
  rescue JWT::DecodeError => e
    puts "unauthorized: #{e.class}"
    exit
  end
  csrf = redis.get("#{prefix}_access_#{payload.fetch("uid")}")
  if csrf.nil?
    puts "unauthorized: access token not found"
  elsif !valid_authenticity_token?(csrf, csrf_token)
    puts "unauthorized: CSRF token"
  else
    puts "ok"
  end
else
  abort "unknown command #{cmd}"
end
